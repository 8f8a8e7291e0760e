"""Magento 2 / Adobe Commerce store adapter (REST ``/rest/V1``):
``adapters.magento:MagentoAdapter``; facts in docs/platforms.md."""

from __future__ import annotations

from adapters.magento.adapter import MagentoAdapter
from adapters.magento.client import MagentoClient

__all__ = ["MagentoAdapter", "MagentoClient"]

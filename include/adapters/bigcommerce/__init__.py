"""BigCommerce store adapter (v2 orders and shipments, v3 inventory):
``adapters.bigcommerce:BigCommerceAdapter``."""

from __future__ import annotations

from adapters.bigcommerce.adapter import BigCommerceAdapter
from adapters.bigcommerce.client import BigCommerceClient

__all__ = ["BigCommerceAdapter", "BigCommerceClient"]

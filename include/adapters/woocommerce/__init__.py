"""WooCommerce store adapter (REST v3): ``adapters.woocommerce:WooCommerceAdapter``."""

from __future__ import annotations

from adapters.woocommerce.adapter import WooCommerceAdapter
from adapters.woocommerce.client import WooClient

__all__ = ["WooClient", "WooCommerceAdapter"]

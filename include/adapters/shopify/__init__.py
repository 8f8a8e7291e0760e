"""Shopify store adapter (Admin GraphQL API): ``adapters.shopify:ShopifyAdapter``."""

from __future__ import annotations

from adapters.shopify.adapter import ShopifyAdapter
from adapters.shopify.client import ShopifyClient

__all__ = ["ShopifyAdapter", "ShopifyClient"]

"""eBay store adapter (Sell Fulfillment + Sell Inventory REST APIs):
``adapters.ebay:EbayAdapter``."""

from __future__ import annotations

from adapters.ebay.adapter import EbayAdapter
from adapters.ebay.mapping import ebay_time, to_order, unit_price

__all__ = ["EbayAdapter", "ebay_time", "to_order", "unit_price"]

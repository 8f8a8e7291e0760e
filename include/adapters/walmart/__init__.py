"""Walmart Marketplace (US, API v3): ``adapters.walmart:WalmartAdapter``."""

from adapters.walmart.adapter import WalmartAdapter

__all__ = ["WalmartAdapter"]

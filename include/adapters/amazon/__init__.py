"""Amazon Selling Partner API store adapter: ``adapters.amazon:AmazonAdapter``."""

from __future__ import annotations

from adapters.amazon.adapter import AmazonAdapter
from adapters.amazon.client import AmazonClient

__all__ = ["AmazonAdapter", "AmazonClient"]

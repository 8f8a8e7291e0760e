"""Etsy store adapter (Open API v3): ``adapters.etsy:EtsyAdapter``; facts in docs/platforms.md."""

from __future__ import annotations

from adapters.etsy.adapter import EtsyAdapter

__all__ = ["EtsyAdapter"]

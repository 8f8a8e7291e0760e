"""What each platform accepts in a connection's ``store.options`` (non-secret behaviour).

One pydantic model per platform, checked by ``dropstream.spec.parse_spec`` so a typo is a
registry error naming the connection and the key, not a failed run. Pure data: importing this
module imports no HTTP library (it is read at DAG-parse time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["STORE_OPTIONS", "store_option_problems"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShopifyOptions(_Options):
    """Shopify reads everything from its Airflow Connection: no options."""


class WooCommerceOptions(_Options):
    tracking: Literal["auto", "extension", "note"] | None = None


class BigCommerceOptions(_Options):
    location_id: int | None = Field(default=None, ge=1)


class AmazonOptions(_Options):
    page_size: int | None = Field(default=None, ge=1, le=100)
    patch_max_skus: int | None = Field(default=None, ge=0)
    feed_poll_seconds: float | None = Field(default=None, ge=0)
    feed_poll_attempts: int | None = Field(default=None, ge=1)


class EbayOptions(_Options):
    page_size: int | None = Field(default=None, ge=1, le=200)


class WalmartOptions(_Options):
    page_size: int | None = Field(default=None, ge=1, le=200)
    feed_threshold: int | None = Field(default=None, ge=0)
    feed_poll_seconds: float | None = Field(default=None, ge=0)
    feed_poll_attempts: int | None = Field(default=None, ge=1)


STORE_OPTIONS: dict[str, type[_Options]] = {
    "amazon": AmazonOptions,
    "bigcommerce": BigCommerceOptions,
    "ebay": EbayOptions,
    "shopify": ShopifyOptions,
    "walmart": WalmartOptions,
    "woocommerce": WooCommerceOptions,
}


def store_option_problems(platform: str, options: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``options`` for ``platform``, one line per key (empty when valid)."""
    model = STORE_OPTIONS.get(platform)
    if model is None:
        return []  # an unknown platform is reported by the platform check itself
    try:
        model.model_validate(dict(options))
    except ValidationError as exc:
        known = ", ".join(model.model_fields) or "none"
        problems = []
        for error in exc.errors(include_url=False):
            key = ".".join(str(part) for part in error["loc"]) or "options"
            if error["type"] == "extra_forbidden":
                problems.append(f"'{key}' is not an option of {platform} (known: {known})")
            else:
                problems.append(f"'{key}': {error['msg']}")
        return problems
    return []

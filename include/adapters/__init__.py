"""Store platform adapters, looked up by platform name.

``get_adapter(platform, conn_id)`` builds one without doing any I/O; every adapter has
``test_connection()``, ``fetch_orders(since, until)``, ``push_inventory(levels)``,
``push_shipments(shipments)`` and a pure ``to_order(raw)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from dropstream.errors import ConfigurationError

if TYPE_CHECKING:
    from adapters.base import StoreAdapter

__all__ = ["PLATFORMS", "get_adapter"]

# platform -> "module:Class"; imported lazily so DAG parsing stays cheap.
_ADAPTERS: dict[str, str] = {
    "amazon": "adapters.amazon:AmazonAdapter",
    "ebay": "adapters.ebay:EbayAdapter",
    "shopify": "adapters.shopify:ShopifyAdapter",
    "woocommerce": "adapters.woocommerce:WooCommerceAdapter",
    "bigcommerce": "adapters.bigcommerce:BigCommerceAdapter",
    "walmart": "adapters.walmart:WalmartAdapter",
}
PLATFORMS: tuple[str, ...] = tuple(sorted(_ADAPTERS))


def get_adapter(
    platform: str,
    conn_id: str,
    options: Mapping[str, Any] | None = None,
    *,
    connection_name: str = "",
) -> StoreAdapter:
    """Return the adapter for ``platform`` over the Airflow Connection ``conn_id`` (no I/O)."""
    target = _ADAPTERS.get(platform)
    if target is None:
        raise ConfigurationError(
            f"store platform {platform!r} is not supported (supported: {', '.join(PLATFORMS)})"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(import_module(module_name), class_name)
    return cls(conn_id, options or {}, connection_name=connection_name)

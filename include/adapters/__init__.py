"""Store platform adapters, looked up by platform name.

The platforms, and each one's ``"module:Class"``, are entries of ``dropstream.catalogue``;
``get_adapter(platform, conn_id)`` (``dropstream.stores``) builds one without doing any I/O.
Every adapter has ``test_connection()``, ``fetch_orders(since, until)``,
``push_inventory(levels)``, ``push_shipments(shipments)`` and a pure ``to_order(raw)``.
"""

from __future__ import annotations

from dropstream.catalogue import PLATFORMS as _CATALOGUE
from dropstream.stores import get_adapter

__all__ = ["PLATFORMS", "get_adapter"]

#: Every platform's name, sorted (the catalogue's entries).
PLATFORMS: tuple[str, ...] = tuple(sorted(_CATALOGUE))

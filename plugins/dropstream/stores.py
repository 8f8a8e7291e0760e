"""The store contract: ``StoreAdapter``, beside ``Transport`` and ``FileFormat``.

Every store platform implements it (in ``include/adapters``, which imports this module; nothing
here imports the adapters except ``get_adapter``, through the catalogue's lazy registry).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from dropstream.catalogue import PLATFORMS
from dropstream.errors import ConfigurationError
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

__all__ = ["StoreAdapter", "get_adapter"]


class StoreAdapter(ABC):
    """One store on one platform, reached through the Airflow Connection ``conn_id``.

    Constructing an adapter does no I/O: credentials are read on first use.
    """

    platform: ClassVar[str] = ""
    #: Whether ``fetch_cancellations`` asks the store; a platform that sets this implements it.
    reports_cancellations: ClassVar[bool] = False

    def __init__(
        self, conn_id: str, options: Mapping[str, Any] | None = None, *, connection_name: str = ""
    ) -> None:
        self.conn_id = conn_id
        self.options = dict(options or {})
        self.connection_name = connection_name or conn_id

    @abstractmethod
    def test_connection(self) -> None:
        """Check credentials and the scopes the three flows need; ConfigurationError if not."""

    @abstractmethod
    def fetch_orders(self, since: datetime, until: datetime) -> Iterator[Order]:
        """Paid, unfulfilled, open orders updated in ``[since, until)``."""

    @abstractmethod
    def fetch_open_orders(self, created_since: datetime) -> Iterator[Order]:
        """Paid, unfulfilled, open orders created at or after ``created_since``, whenever they
        were last updated: a new connection's backlog."""

    def fetch_cancellations(self, since: datetime, until: datetime) -> Iterator[Cancellation]:
        """Orders cancelled in the store (refunded in full, where the platform has no cancel)
        and updated in ``[since, until)``, each with when and why.

        One extra listing per window (the platform's own status filter), not a call per order.
        The orders flow records them: not sent yet, never sent; sent, the warehouse gets a
        cancel file. A platform without it (``reports_cancellations`` False) says so in the
        run's log and operators cancel by hand (the ``cancel`` action).
        """
        raise ConfigurationError(
            f"{self.platform or type(self).__name__} stores do not report cancellations yet"
        )

    @abstractmethod
    def push_inventory(self, levels: Sequence[InventoryLevel]) -> PushResult:
        """Set available quantities; keys in the result are SKUs."""

    @abstractmethod
    def push_shipments(self, shipments: Sequence[Shipment]) -> PushResult:
        """Create fulfillments with tracking; keys in the result are ``Shipment.key``."""

    @abstractmethod
    def to_order(self, raw: dict[str, Any]) -> Order:
        """Map one raw platform order to an Order (pure)."""

    def stock_levels(self, skus: Sequence[str]) -> dict[str, int]:
        """The store's available quantity of each SKU it has (read only; the reconciliation
        report). Platforms that cannot answer yet say so rather than guess."""
        raise ConfigurationError(
            f"reading stock from {self.platform or type(self).__name__} stores is not built yet: "
            "the report compares the warehouse snapshot with the ledger only"
        )

    def close(self) -> None:  # noqa: B027 - optional hook: adapters without I/O keep the no-op
        """Release HTTP connections (idempotent)."""


def get_adapter(
    platform: str,
    conn_id: str,
    options: Mapping[str, Any] | None = None,
    *,
    connection_name: str = "",
) -> StoreAdapter:
    """The adapter of ``platform`` over the Airflow Connection ``conn_id`` (no I/O)."""
    cls = PLATFORMS.load(platform)
    adapter: StoreAdapter = cls(conn_id, options or {}, connection_name=connection_name)
    return adapter

"""Adapter base: the contract every store platform implements, and the adapter over the shared
HTTP client (``http_client.py``); paginators are in ``paginators.py``, pacing in ``pacing.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from adapters.http_client import (
    ConnectionInfo,
    HttpClient,
    RetryPolicy,
    parse_retry_after,
    read_connection,
    redact_text,
    redact_url,
)
from dropstream.errors import ConfigurationError
from dropstream.models import Cancellation, InventoryLevel, Order, PushResult, Shipment

# Re-exported: adapters and tests import the client's names from here too.
__all__ = [
    "ConnectionInfo",
    "HttpClient",
    "HttpStoreAdapter",
    "RetryPolicy",
    "StoreAdapter",
    "parse_retry_after",
    "read_connection",
    "redact_text",
    "redact_url",
]


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


ClientT = TypeVar("ClientT", bound=HttpClient)


class HttpStoreAdapter(StoreAdapter, Generic[ClientT]):
    """A StoreAdapter over one HttpClient (of type ``ClientT``), built lazily from the Airflow
    Connection."""

    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()

    def __init__(
        self, conn_id: str, options: Mapping[str, Any] | None = None, *, connection_name: str = ""
    ) -> None:
        super().__init__(conn_id, options, connection_name=connection_name)
        self._conn: ConnectionInfo | None = None
        self._http: ClientT | None = None

    @property
    def conn(self) -> ConnectionInfo:
        if self._conn is None:
            purpose = f"{self.platform} store of connection {self.connection_name!r}"
            self._conn = read_connection(self.conn_id, purpose=purpose)
        return self._conn

    @property
    def http(self) -> ClientT:
        if self._http is None:
            self._http = self.build_client(self.conn)
        return self._http

    @property
    def client(self) -> ClientT:
        """The platform's client (``http`` under the name the adapters read best with)."""
        return self.http

    @abstractmethod
    def build_client(self, conn: ConnectionInfo) -> ClientT:
        """Build the HttpClient (base URL, auth headers) from the Airflow Connection."""

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

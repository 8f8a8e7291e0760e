"""Adapter base: the adapter over the shared HTTP client (``http_client.py``); paginators are in
``paginators.py``, pacing in ``pacing.py``. The contract every store platform implements,
``StoreAdapter``, lives in ``dropstream.stores`` (beside ``Transport`` and ``FileFormat``) and is
re-exported here, so adapters written against ``adapters.base`` keep working.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
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
from dropstream.stores import StoreAdapter

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

    def client_args(self, conn: ConnectionInfo, *, credential_hint: str) -> dict[str, Any]:
        """What every platform's client takes from the adapter and its Connection."""
        return {
            "platform": self.platform,
            "connection_name": self.connection_name,
            "conn_id": conn.conn_id,
            "credential_hint": credential_hint,
            "retry": self.retry_policy,
        }

    @abstractmethod
    def build_client(self, conn: ConnectionInfo) -> ClientT:
        """Build the HttpClient (base URL, auth headers) from the Airflow Connection."""

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

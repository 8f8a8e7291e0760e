"""Warehouse transports over Airflow provider hooks, looked up by protocol name.

The protocols, and each one's ``"module:Class"``, are entries of ``dropstream.catalogue``;
a transport's module is imported on first use, so DAG parsing never pays for paramiko/boto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dropstream.catalogue import PROTOCOLS as _CATALOGUE
from dropstream.sharing import Account, account_of_connection, by_conn_id

if TYPE_CHECKING:
    from dropstream.spec import ConnectionSpec
    from dropstream.transports.base import Transport

__all__ = ["PROTOCOLS", "AccountResolver", "get_transport"]

#: Every protocol's name, in the catalogue's order.
PROTOCOLS: tuple[str, ...] = _CATALOGUE.names


def get_transport(protocol: str, conn_id: str) -> Transport:
    """Return the transport for ``protocol`` over the Airflow Connection ``conn_id`` (no I/O)."""
    transport: Transport = _CATALOGUE.load(protocol)(conn_id)
    return transport


class AccountResolver:
    """``account_of`` for ``dropstream.sharing``: what each warehouse Airflow Connection points at.

    FTP/FTPS/SFTP: host, port and login; S3: endpoint and bucket. A Connection that does not
    exist (yet) counts as its own account. Each Connection is read once per resolver.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Account] = {}

    def __call__(self, spec: ConnectionSpec) -> Account:
        key = (spec.warehouse.protocol, spec.warehouse.conn_id)
        if key not in self._seen:
            self._seen[key] = self._look_up(spec) or by_conn_id(spec)
        return self._seen[key]

    @staticmethod
    def _look_up(spec: ConnectionSpec) -> Account | None:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        protocol = spec.warehouse.protocol
        try:
            conn = BaseHook.get_connection(spec.warehouse.conn_id)
        except AirflowNotFoundException:
            return None
        return account_of_connection(protocol, conn.host, conn.port, conn.login, conn.extra_dejson)

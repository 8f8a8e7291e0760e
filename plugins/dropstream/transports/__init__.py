"""Warehouse transports over Airflow provider hooks, looked up by protocol name."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from dropstream.errors import ConfigurationError

if TYPE_CHECKING:
    from dropstream.transports.base import Transport

__all__ = ["PROTOCOLS", "get_transport"]

# protocol -> "module:Class"; imported lazily so DAG parsing never pays for paramiko/boto.
_TRANSPORTS: dict[str, str] = {
    "ftp": "dropstream.transports.ftp:FTPTransport",
    "ftps": "dropstream.transports.ftp:FTPSTransport",
    "s3": "dropstream.transports.s3:S3Transport",
    "sftp": "dropstream.transports.sftp:SFTPTransport",
}
PROTOCOLS: tuple[str, ...] = ("ftp", "ftps", "sftp", "s3")


def get_transport(protocol: str, conn_id: str) -> Transport:
    """Return the transport for ``protocol`` over the Airflow Connection ``conn_id`` (no I/O)."""
    target = _TRANSPORTS.get(protocol)
    if target is None:
        known = ", ".join(sorted(_TRANSPORTS))
        raise ConfigurationError(
            f"warehouse protocol {protocol!r} is not available (available: {known})"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(import_module(module_name), class_name)
    return cls(conn_id)

"""Pieces every file-server transport shares (ordering, archive names, connection look-up)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from dropstream.connection_lookup import OR_UNREADABLE, look_up
from dropstream.errors import ConfigurationError
from dropstream.transports.base import RemoteFile, join

#: How many ``name-N.ext`` variants ``archive`` tries before giving up.
ARCHIVE_SUFFIXES = 1000
_OLDEST = datetime.min.replace(tzinfo=UTC)


def newest_first(files: Iterable[RemoteFile]) -> list[RemoteFile]:
    """Newest modification time first; equal (or unknown) times fall back to name, descending."""
    ordered = sorted(files, key=lambda f: f.name, reverse=True)
    ordered.sort(key=lambda f: f.modified_at or _OLDEST, reverse=True)  # stable: keeps ties
    return ordered


def archive_targets(folder: str, name: str) -> Iterator[str]:
    """``folder/name``, then ``folder/stem-2.ext``, ``-3``, … : where an archived file may go."""
    stem, ext = posixpath.splitext(name)
    for n in range(1, ARCHIVE_SUFFIXES + 1):
        yield join(folder, name if n == 1 else f"{stem}-{n}{ext}")


def get_airflow_connection(conn_id: str, conn_type: str) -> Any:
    """The Airflow Connection ``conn_id``, or a ConfigurationError that says how to create it."""
    try:
        return look_up(conn_id)
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            raise ConfigurationError(
                f"Airflow Connection '{conn_id}' does not exist{OR_UNREADABLE}: create it "
                f"(type {conn_type})"
            ) from exc
        raise ConfigurationError(f"Airflow Connection '{conn_id}' is invalid: {exc}") from exc

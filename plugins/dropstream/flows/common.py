"""What every flow step gets: the spec, the ledger, the clock reading, and file helpers."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from dropstream.errors import FileFormatError
from dropstream.ledger import Ledger
from dropstream.spec import ConnectionSpec
from dropstream.transports.base import RemoteFile, Transport, join

T = TypeVar("T")
log = logging.getLogger("dropstream")


@dataclass(slots=True)
class Step:
    """One run of one step for one connection."""

    spec: ConnectionSpec
    ledger: Ledger
    now: datetime
    log: logging.Logger = field(default=log)

    @property
    def name(self) -> str:
        return self.spec.name


def error_folder(step: Step) -> str:
    """Where unreadable warehouse files go for a person to look at."""
    return join(step.spec.warehouse.paths.archive, "error")


def read_new_files(
    step: Step,
    transport: Transport,
    flow: str,
    folder: str,
    pattern: str,
    parse: Callable[[io.BytesIO, str, Callable[[FileFormatError], None]], Iterator[T]],
) -> Iterator[tuple[RemoteFile, list[T], list[FileFormatError]]]:
    """Files now in ``folder``, oldest first, parsed; unreadable ones moved aside.

    A file whose every record fails (or whose header is unusable) is moved to the error folder
    and recorded as ``error``: reported once, never retried forever nor silently skipped.
    """
    found = sorted(
        transport.list_files(folder, pattern), key=lambda f: (f.modified_at or step.now, f.name)
    )
    for remote in found:
        # A name seen before is read again: the warehouse re-sent it, and re-reading is harmless
        # (shipments are keyed, the newest inventory snapshot wins); it is archived again after.
        errors: list[FileFormatError] = []
        try:
            records = list(
                parse(io.BytesIO(transport.read(remote.path)), remote.name, errors.append)
            )
        except FileFormatError as exc:
            records, errors = [], [*errors, exc]
        if errors and not records:
            moved = transport.archive(remote.path, error_folder(step))
            detail = "; ".join(str(e) for e in errors[:5])
            step.ledger.mark_seen(step.name, flow, remote.name, "error", step.now, detail)
            step.log.error(
                "connection %s: %s is unreadable and was moved to %s: %s",
                step.name,
                remote.name,
                moved,
                detail,
            )
            continue
        for error in errors:
            step.log.warning("connection %s: skipped a bad record: %s", step.name, error)
        step.ledger.mark_seen(
            step.name,
            flow,
            remote.name,
            "read",
            step.now,
            f"{len(errors)} bad record(s)" if errors else "",
        )
        yield remote, records, errors


def archive_read_files(step: Step, transport: Transport, flow: str, folder: str) -> list[str]:
    """Move every file this connection has read for ``flow`` to the archive folder."""
    archived = []
    for name in step.ledger.files_in_state(step.name, flow, "read"):
        path = join(folder, name)
        if transport.exists(path):
            transport.archive(path, step.spec.warehouse.paths.archive)
        step.ledger.mark_seen(step.name, flow, name, "archived", step.now)
        archived.append(name)
    return archived

"""What every flow step gets: the spec, the ledger, the clock reading, and file helpers."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from dropstream.errors import FileFormatError, NotFoundError
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
    run: str = ""  # the Airflow run id: names the lease holder, attributes orders to runs

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class SharedFolder:
    """A warehouse folder and the connections that read it (see ``dropstream.sharing``).

    ``key`` is what the ledger keeps the folder's files and unclaimed records under: the
    connection's own name when nobody shares the folder.
    """

    path: str
    key: str
    members: tuple[str, ...]
    #: (member, its rules.zero_out_guard_pct): the inventory guard judges each member's store
    #: by its own threshold (a member left out gets the default).
    guard_pcts: tuple[tuple[str, float], ...] = ()

    @classmethod
    def alone(cls, step: Step, path: str) -> SharedFolder:
        return cls(path, step.name, (step.name,))

    @property
    def shared(self) -> bool:
        return len(self.members) > 1


def error_folder(step: Step) -> str:
    """Where unreadable warehouse files go for a person to look at."""
    return join(step.spec.warehouse.paths.archive, "error")


Parse = Callable[[io.BytesIO, str, Callable[[FileFormatError], None]], Iterator[T]]


def read_new_files(
    step: Step,
    transport: Transport,
    flow: str,
    folder: SharedFolder,
    pattern: str,
    parse: Parse[T],
    keep: Callable[[RemoteFile, list[T]], None],
) -> tuple[list[str], int]:
    """Read the files now in ``folder``, oldest first, and ``keep`` each one's records.

    A file is marked ``read`` (so any sharing connection's load may archive it) only after
    ``keep`` has recorded its records. A file another connection archived between listing and
    reading is skipped. A file whose every record fails (or whose header is unusable) is moved
    to the error folder and recorded as ``error``: reported once, never retried forever.
    Returns the names read and the count of bad records skipped.
    """
    found = sorted(
        transport.list_files(folder.path, pattern),
        key=lambda f: (f.modified_at or step.now, f.name),
    )
    names, bad = [], 0
    for remote in found:
        # A name seen before is read again: the warehouse re-sent it, and re-reading is harmless
        # (records are keyed, the newest inventory snapshot wins); it is archived again after.
        errors: list[FileFormatError] = []
        try:
            content = transport.read(remote.path)
        except NotFoundError:
            step.log.info("connection %s: %s was archived meanwhile", step.name, remote.name)
            continue
        try:
            records = list(parse(io.BytesIO(content), remote.name, errors.append))
        except FileFormatError as exc:
            records, errors = [], [*errors, exc]
        if errors and not records:
            detail = "; ".join(str(e) for e in errors[:5])
            moved = transport.archive(remote.path, error_folder(step))
            step.ledger.mark_seen(folder.key, flow, remote.name, "error", step.now, detail)
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
        keep(remote, records)
        step.ledger.mark_seen(
            folder.key,
            flow,
            remote.name,
            "read",
            step.now,
            f"{len(errors)} bad record(s)" if errors else "",
        )
        names.append(remote.name)
        bad += len(errors)
    return names, bad


def archive_read_files(
    step: Step, transport: Transport, flow: str, folder: SharedFolder
) -> list[str]:
    """Move every file read from ``folder`` (by any connection sharing it) to the archive.

    Its records are in every sharing connection's ledger already, so every one is done with it.
    """
    archived = []
    for name in step.ledger.files_in_state(folder.key, flow, "read"):
        path = join(folder.path, name)
        # NotFoundError: archived meanwhile by another connection sharing the folder
        with contextlib.suppress(NotFoundError):
            transport.archive(path, step.spec.warehouse.paths.archive)
        step.ledger.mark_seen(folder.key, flow, name, "archived", step.now)
        archived.append(name)
    return archived

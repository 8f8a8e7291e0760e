"""The shape every flow has, and the file helpers of the flows that read the warehouse.

A flow is an object with ``extract``, ``transform`` and ``load`` over one run's context
(``dropstream.flows.context.RunContext``), which opens what a step uses on first use. The work
is in each flow's module, as plain functions over explicit collaborators (the context, an
adapter, a transport, a format, a folder), so the actions and the tests call them directly.
"""

from __future__ import annotations

import contextlib
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, TypeVar

from dropstream.errors import FileFormatError, NotFoundError
from dropstream.flows.context import RunContext, SharedFolder
from dropstream.transports.base import RemoteFile, Transport, join

if TYPE_CHECKING:
    from dropstream.formats.base import FileFormat, OnError
    from dropstream.sharing import Kind
    from dropstream.stores import StoreAdapter

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Summary = dict[str, Any]  # what a step returns: its XCom, and its line in the run's summary


class Flow(ABC):
    """One flow's three steps for one run; each returns its summary."""

    name: ClassVar[str]

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def extract(self) -> Summary: ...

    @abstractmethod
    def transform(self) -> Summary: ...

    @abstractmethod
    def load(self) -> Summary: ...

    def watched_folder(self) -> SharedFolder | None:
        """The warehouse folder whose files the alert sweep watches for this flow, if any."""
        return None


class FolderFlow(Flow):
    """Warehouse -> store: the extract reads the new files of one (maybe shared) warehouse
    folder and records what they say; the load pushes it under the connection's lease, then
    archives the files read. A flow declares its folder ``kind`` and its functions."""

    kind: ClassVar[Kind]
    #: ``(ctx, transport, format, folder)``: record the records of the folder's new files.
    read_files: Callable[[RunContext, Transport, FileFormat, SharedFolder], Summary]
    #: ``(ctx, adapter, transport, folder)``: push what is ready, archive the files read.
    push: Callable[[RunContext, StoreAdapter, Transport, SharedFolder], Summary]

    @property
    def folder(self) -> SharedFolder:
        """The flow's warehouse folder and the connections sharing it."""
        return self.ctx.shared_folder(self.kind)

    def extract(self) -> Summary:
        folder = self.folder
        return self.read_files(self.ctx, self.ctx.transport, self.ctx.file_format, folder)

    def load(self) -> Summary:
        folder = self.folder
        return self.push(self.ctx, self.ctx.adapter, self.ctx.transport, folder)

    def watched_folder(self) -> SharedFolder:
        return self.folder


def error_folder(ctx: RunContext) -> str:
    """Where unreadable warehouse files go for a person to look at."""
    return join(ctx.spec.warehouse.paths.archive, "error")


class Parse(Protocol[T_co]):
    """A format's reader of one kind of file (``FileFormat.read_inventory``, …)."""

    def __call__(
        self, stream: BinaryIO, *, file_name: str = ..., on_error: OnError | None = ...
    ) -> Iterator[T_co]: ...


def read_new_files(
    ctx: RunContext,
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
        key=lambda f: (f.modified_at or ctx.now, f.name),
    )
    names, bad = [], 0
    for remote in found:
        # A name seen before is read again: the warehouse re-sent it, and re-reading is harmless
        # (records are keyed, the newest inventory snapshot wins); it is archived again after.
        errors: list[FileFormatError] = []
        try:
            content = transport.read(remote.path)
        except NotFoundError:
            ctx.log.info("connection %s: %s was archived meanwhile", ctx.name, remote.name)
            continue
        try:
            records = list(
                parse(io.BytesIO(content), file_name=remote.name, on_error=errors.append)
            )
        except FileFormatError as exc:
            records, errors = [], [*errors, exc]
        if errors and not records:
            detail = "; ".join(str(e) for e in errors[:5])
            moved = transport.archive(remote.path, error_folder(ctx))
            ctx.ledger.mark_seen(folder.key, flow, remote.name, "error", ctx.now, detail)
            ctx.log.error(
                "connection %s: %s is unreadable and was moved to %s: %s",
                ctx.name,
                remote.name,
                moved,
                detail,
            )
            continue
        for error in errors:
            ctx.log.warning("connection %s: skipped a bad record: %s", ctx.name, error)
        keep(remote, records)
        ctx.ledger.mark_seen(
            folder.key,
            flow,
            remote.name,
            "read",
            ctx.now,
            f"{len(errors)} bad record(s)" if errors else "",
        )
        names.append(remote.name)
        bad += len(errors)
    return names, bad


def archive_read_files(
    ctx: RunContext, transport: Transport, flow: str, folder: SharedFolder
) -> list[str]:
    """Move every file read from ``folder`` (by any connection sharing it) to the archive.

    Its records are in every sharing connection's ledger already, so every one is done with it.
    """
    archived = []
    for name in ctx.ledger.files_in_state(folder.key, flow, "read"):
        path = join(folder.path, name)
        # NotFoundError: archived meanwhile by another connection sharing the folder
        with contextlib.suppress(NotFoundError):
            transport.archive(path, ctx.spec.warehouse.paths.archive)
        ctx.ledger.mark_seen(folder.key, flow, name, "archived", ctx.now)
        archived.append(name)
    return archived

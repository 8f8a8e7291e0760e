"""The transport contract every warehouse protocol implements.

Publishing is split in two steps so the orders flow can record, in the ledger, which side of
the rename it is on: ``stage`` uploads under a temporary name the warehouse never picks up,
``commit`` renames it to the final name. ``publish`` does both. A retry that finds the staged
temporary file still present knows the rename has not happened; one that finds it gone knows
the rename did happen (only ``commit`` removes a staged file).
"""

from __future__ import annotations

import fnmatch
import posixpath
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from dropstream.errors import ConfigurationError

#: Prefix and suffix of staged uploads: hidden and with an extension no warehouse pattern matches.
STAGING_PREFIX = ".dropstream-"
STAGING_SUFFIX = ".part"


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file found in a warehouse folder."""

    path: str  # full path on the server (folder + name)
    name: str
    size: int
    modified_at: datetime | None  # timezone-aware UTC when the server tells


def staging_name(name: str) -> str:
    """Temporary name a file is uploaded under before it is renamed to ``name``."""
    return f"{STAGING_PREFIX}{name}{STAGING_SUFFIX}"


def safe_name(name: str, *, where: str) -> str:
    """Reject names that could escape a folder or are not plain file names."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise ConfigurationError(f"unsafe file name {name!r} {where}")
    return name


def is_candidate(name: str, pattern: str) -> bool:
    """Whether a listed name is a real file matching ``pattern`` (never hidden or temporary)."""
    if name.startswith(".") or name.endswith((STAGING_SUFFIX, ".tmp", "~")):
        return False
    if "/" in name or "\\" in name or name in {".", ".."}:
        return False
    return fnmatch.fnmatchcase(name, pattern)


def join(folder: str, name: str) -> str:
    """Join a folder and a plain file name with POSIX separators."""
    return posixpath.join(folder or "/", name)


class Transport(ABC):
    """Moves files to and from one warehouse over one Airflow Connection."""

    protocol: str = ""

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id

    @abstractmethod
    def test(self) -> None:
        """Log in and fail with a ConfigurationError/TransientError that says what is wrong."""

    @abstractmethod
    def list_files(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        """Files in ``folder`` whose names match the glob ``pattern``, newest first."""

    @abstractmethod
    def read(self, path: str) -> bytes:
        """The whole content of the file at ``path``."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether a file exists at ``path``."""

    @abstractmethod
    def stage(self, folder: str, name: str, data: bytes) -> str:
        """Upload ``data`` as ``staging_name(name)`` in ``folder``, overwriting; return its path."""

    @abstractmethod
    def commit(self, folder: str, name: str) -> str:
        """Rename the staged upload of ``name`` to its final name; return the final path."""

    @abstractmethod
    def discard_staged(self, folder: str, name: str) -> bool:
        """Delete the staged upload of ``name`` in ``folder`` if there is one; say if there was."""

    @abstractmethod
    def archive(self, path: str, folder: str) -> str:
        """Move the file at ``path`` into ``folder`` (created if missing); return the new path."""

    def publish(self, folder: str, name: str, data: bytes) -> str:
        """Upload atomically: the final name appears only once the content is complete."""
        self.stage(folder, name, data)
        return self.commit(folder, name)

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Release any open connection (idempotent)."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

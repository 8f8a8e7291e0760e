"""Warehouse file formats, looked up by name (the entries of ``dropstream.catalogue``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dropstream.catalogue import FORMATS as _CATALOGUE
from dropstream.errors import ConfigurationError

if TYPE_CHECKING:
    from dropstream.formats.base import FileFormat

__all__ = ["FORMATS", "format_problems", "get_format"]

#: Every format's name, sorted (the catalogue's entries).
FORMATS: tuple[str, ...] = tuple(sorted(_CATALOGUE))


def get_format(name: str, options: Mapping[str, Any] | None = None) -> FileFormat:
    """Return the file format ``name`` configured with ``options``."""
    file_format: FileFormat = _CATALOGUE.load(name)(**dict(options or {}))
    return file_format


def format_problems(name: str, options: Mapping[str, Any] | None = None) -> list[str]:
    """Why ``name`` with ``options`` cannot be used (empty when it can): each format's own
    options model decides, so the registry refuses what a run would refuse."""
    try:
        get_format(name, options)
    except ConfigurationError as exc:
        return [str(exc)]
    return []

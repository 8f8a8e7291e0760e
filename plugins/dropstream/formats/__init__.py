"""Warehouse file formats, looked up by name."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from dropstream.errors import ConfigurationError

if TYPE_CHECKING:
    from dropstream.formats.base import FileFormat

__all__ = ["FORMATS", "format_problems", "get_format"]

_FORMATS: dict[str, str] = {
    "flat_csv": "dropstream.formats.flat_csv:FlatCSV",
    "header_detail_csv": "dropstream.formats.header_detail_csv:HeaderDetailCSV",
    "x12": "dropstream.formats.x12:X12",
}
FORMATS: tuple[str, ...] = tuple(sorted(_FORMATS))


def get_format(name: str, options: Mapping[str, Any] | None = None) -> FileFormat:
    """Return the file format ``name`` configured with ``options``."""
    target = _FORMATS.get(name)
    if target is None:
        raise ConfigurationError(
            f"warehouse file format {name!r} is not known (known: {', '.join(FORMATS)})"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(import_module(module_name), class_name)
    return cls(**dict(options or {}))


def format_problems(name: str, options: Mapping[str, Any] | None = None) -> list[str]:
    """Why ``name`` with ``options`` cannot be used (empty when it can): each format's own
    options model decides, so the registry refuses what a run would refuse."""
    try:
        get_format(name, options)
    except ConfigurationError as exc:
        return [str(exc)]
    return []

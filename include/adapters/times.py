"""Platform times: parsing what a store sends, formatting window bounds, filtering a window.

A platform's query is widened to whole seconds (``round_up`` on the upper bound) and what comes
back is filtered exactly to ``[since, until)`` with ``in_window``: the flows' windows never
overlap and never leave a gap, whatever precision the store's filter has.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "ISO_NAIVE",
    "ISO_OFFSET",
    "ISO_Z",
    "created_at_or_after",
    "epoch_seconds",
    "in_window",
    "parse_epoch",
    "parse_iso",
    "query_time",
]

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"  # 2026-03-01T12:00:00Z
ISO_OFFSET = "%Y-%m-%dT%H:%M:%S+00:00"  # 2026-03-01T12:00:00+00:00
ISO_NAIVE = "%Y-%m-%dT%H:%M:%S"  # 2026-03-01T12:00:00, for fields the platform says are GMT

Raw = dict[str, Any]


def parse_iso(value: str) -> datetime:
    """An ISO 8601 time (``Z`` accepted) as aware UTC; a time without an offset is UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_epoch(value: int | str) -> datetime:
    """Unix seconds (Etsy's timestamps) as aware UTC."""
    return datetime.fromtimestamp(int(value), UTC)


def epoch_seconds(value: datetime, *, round_up: bool = False) -> int:
    """``value`` as Unix seconds, rounded down (up with ``round_up``)."""
    seconds = value.timestamp()
    return math.ceil(seconds) if round_up else math.floor(seconds)


def query_time(value: datetime, fmt: str, *, round_up: bool = False, shift: int = 0) -> str:
    """``value`` in UTC to the whole second (up past a fraction with ``round_up``), moved by
    ``shift`` seconds (for an exclusive bound), in the ``strftime`` format ``fmt``."""
    value = value.astimezone(UTC)
    if round_up and value.microsecond:
        value += timedelta(seconds=1)
    return (value.replace(microsecond=0) + timedelta(seconds=shift)).strftime(fmt)


def in_window(
    since: datetime, until: datetime, field: str, parse: Callable[[str], datetime] = parse_iso
) -> Callable[[Raw], bool]:
    """Whether a raw record's ``field`` lies in ``[since, until)``."""
    return lambda raw: since <= parse(raw[field]) < until


def created_at_or_after(
    since: datetime, field: str, parse: Callable[[str], datetime] = parse_iso
) -> Callable[[Raw], bool]:
    """Whether a raw record's ``field`` is at or after ``since``."""
    return lambda raw: parse(raw[field]) >= since

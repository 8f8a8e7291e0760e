"""What each platform accepts in a connection's ``store.options``: the models are in
``dropstream.catalogue`` (each platform's ``options``); these names stay for code that reads
them from here. Pure data: importing this module imports no HTTP library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dropstream.catalogue import PLATFORMS, StoreOptions

__all__ = ["STORE_OPTIONS", "store_option_problems"]

STORE_OPTIONS: dict[str, type[StoreOptions]] = {p.key: p.options for p in PLATFORMS.values()}


def store_option_problems(platform: str, options: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``options`` for ``platform``, one line per key (empty when valid)."""
    entry = PLATFORMS.get(platform)
    return entry.option_problems(options) if entry is not None else []

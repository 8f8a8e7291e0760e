"""The Walmart emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.walmart``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.walmart import WalmartEmulator, walmart_connection_json
from tests.servers._emulator import running

__all__ = ["WalmartEmulator", "walmart_connection_json", "walmart_emulator"]


@pytest.fixture
def walmart_emulator() -> Iterator[WalmartEmulator]:
    """A fresh emulated Walmart Marketplace seller per test, on an ephemeral loopback port."""
    with running(WalmartEmulator()) as emulator:
        yield emulator

"""The Etsy emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.etsy``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.etsy import EtsyEmulator, etsy_connection_json
from tests.servers._emulator import running

__all__ = ["EtsyEmulator", "etsy_connection_json", "etsy_emulator"]


@pytest.fixture
def etsy_emulator() -> Iterator[EtsyEmulator]:
    """A fresh emulated Etsy shop per test, on an ephemeral loopback port."""
    with running(EtsyEmulator()) as emulator:
        yield emulator

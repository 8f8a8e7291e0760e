"""The Amazon emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.amazon``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.amazon import AmazonEmulator, amazon_connection_json
from tests.servers._emulator import running

__all__ = ["AmazonEmulator", "amazon_connection_json", "amazon_emulator"]


@pytest.fixture
def amazon_emulator() -> Iterator[AmazonEmulator]:
    """A fresh emulated Amazon seller per test, on an ephemeral loopback port."""
    with running(AmazonEmulator()) as emulator:
        yield emulator

"""The BigCommerce emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.bigcommerce``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.bigcommerce import (
    BigCommerceEmulator,
    bigcommerce_connection_json,
)
from tests.servers._emulator import running

__all__ = ["BigCommerceEmulator", "bigcommerce_connection_json", "bigcommerce_emulator"]


@pytest.fixture
def bigcommerce_emulator() -> Iterator[BigCommerceEmulator]:
    """A fresh emulated BigCommerce store per test, on an ephemeral loopback port."""
    with running(BigCommerceEmulator()) as emulator:
        yield emulator

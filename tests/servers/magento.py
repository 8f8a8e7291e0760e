"""The Magento emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.magento``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.magento import MagentoEmulator, magento_connection_json
from tests.servers._emulator import running

__all__ = ["MagentoEmulator", "magento_connection_json", "magento_emulator"]


@pytest.fixture
def magento_emulator() -> Iterator[MagentoEmulator]:
    """A fresh emulated Magento store per test, on an ephemeral loopback port."""
    with running(MagentoEmulator()) as emulator:
        yield emulator

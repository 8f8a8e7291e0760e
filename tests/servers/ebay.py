"""The Ebay emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.ebay``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.ebay import EbayEmulator, ebay_connection_json
from tests.servers._emulator import running

__all__ = ["EbayEmulator", "ebay_connection_json", "ebay_emulator"]


@pytest.fixture
def ebay_emulator() -> Iterator[EbayEmulator]:
    """A fresh emulated eBay seller account per test, on an ephemeral loopback port."""
    with running(EbayEmulator()) as emulator:
        yield emulator

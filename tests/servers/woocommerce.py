"""The WooCommerce emulator fixture; the emulator itself is in the product's sandbox
(``dropstream.sandbox.platforms.woocommerce``), so the benchmarks run it without importing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.platforms.woocommerce import (
    WooCommerceEmulator,
    woocommerce_connection_json,
)
from tests.servers._emulator import running

__all__ = ["WooCommerceEmulator", "woocommerce_connection_json", "woocommerce_emulator"]


@pytest.fixture
def woocommerce_emulator() -> Iterator[WooCommerceEmulator]:
    """A fresh emulated WooCommerce site per test, on an ephemeral loopback port."""
    with running(WooCommerceEmulator()) as emulator:
        yield emulator

"""The Shopify emulator fixture; the emulator is the product's sandbox store
(``dropstream.sandbox.shopify``), so the tests and ``make run`` exercise the same strict shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dropstream.sandbox.shopify import ShopifyEmulator, shopify_connection_json
from tests.servers._emulator import running

__all__ = ["ShopifyEmulator", "shopify_connection_json", "shopify_emulator"]


@pytest.fixture
def shopify_emulator() -> Iterator[ShopifyEmulator]:
    """A fresh emulated shop per test, on an ephemeral loopback port."""
    with running(ShopifyEmulator()) as emulator:
        yield emulator

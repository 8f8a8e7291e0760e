"""The platform harnesses (``dropstream.sandbox.platforms.harness``), plus what only tests do:
make an adapter's retries and polls fast."""

from __future__ import annotations

import pytest

from adapters.base import RetryPolicy
from dropstream.sandbox.platforms.harness import (
    DEFAULT_ADDRESS,
    DEFAULT_LINES,
    HARNESSES,
    Fulfillment,
    Line,
    PlatformHarness,
    Shape,
    ShopifyHarness,
    harness_for,
)

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_LINES",
    "FAST",
    "HARNESSES",
    "Fulfillment",
    "Line",
    "PlatformHarness",
    "Shape",
    "ShopifyHarness",
    "harness_for",
    "speed_up",
]

# Tests never wait out production backoffs.
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.5, jitter=0.01)


def speed_up(h: PlatformHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``h``'s adapter retry and poll test-fast (class attributes, undone after the test)."""
    from adapters import get_adapter  # building one does no I/O

    adapter_class = type(get_adapter(h.platform, "unused"))
    monkeypatch.setattr(adapter_class, "retry_policy", FAST)
    for name, value in h.fast_overrides.items():
        monkeypatch.setattr(adapter_class, name, value)

"""The emulators' base (dropstream/sandbox/strict.py): crashes fail the test, the token bucket."""

from __future__ import annotations

import pytest
import requests

from dropstream.sandbox.strict import EmulatorCrashed, TokenBucket
from tests.servers._emulator import running
from tests.servers.ebay import EbayEmulator

pytest_plugins = ["pytester"]


def _crash_on_orders(emulator: EbayEmulator) -> None:
    def broken(*_args: object) -> None:
        raise KeyError("a field the emulator forgot")

    emulator._orders = broken  # type: ignore[method-assign]


def test_a_request_that_crashes_the_emulator_fails_on_leaving():
    emulator = EbayEmulator()
    with pytest.raises(EmulatorCrashed, match="KeyError") as caught, running(emulator):
        _crash_on_orders(emulator)
        token = "v^1.1#i^1#access-test"
        emulator.tokens.add(token)
        reply = requests.get(
            f"{emulator.url}/sell/fulfillment/v1/order",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert reply.status_code == 500  # all the client sees
    assert "GET /sell/fulfillment/v1/order" in str(caught.value)


def test_an_emulator_that_raises_fails_the_test_that_drove_it(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import requests
        from tests.servers.ebay import ebay_emulator  # noqa: F401  (the real fixture)

        def test_drives_a_broken_emulator(ebay_emulator):
            def broken(*args):
                raise KeyError("a field the emulator forgot")
            ebay_emulator._orders = broken
            ebay_emulator.tokens.add("t")
            reply = requests.get(ebay_emulator.url + "/sell/fulfillment/v1/order",
                                 headers={"Authorization": "Bearer t"}, timeout=5)
            assert reply.status_code == 500  # the body passes: only the teardown can tell

        def test_drives_a_healthy_emulator(ebay_emulator):
            ebay_emulator.tokens.add("t")
            reply = requests.get(ebay_emulator.url + "/sell/fulfillment/v1/order",
                                 headers={"Authorization": "Bearer t"}, timeout=5)
            assert reply.status_code == 200
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_drives_a_broken_emulator*",
            "*EmulatorCrashed: EbayEmulator crashed on 1 request(s)*",
            "*KeyError: 'a field the emulator forgot'",
        ]
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_pays_refills_at_its_rate_and_caps_at_its_capacity():
    clock = _Clock()
    bucket = TokenBucket(10, 2, clock=clock)
    assert bucket.take(10) and not bucket.take(1)
    assert bucket.seconds_until(3) == pytest.approx(1.5)
    clock.now = 1.0
    assert bucket.available == pytest.approx(2) and bucket.take(2) and not bucket.take(0.5)
    clock.now = 100.0
    assert bucket.available == 10
    bucket.set(rate=5, available=0)
    clock.now = 101.0
    assert bucket.available == pytest.approx(5)

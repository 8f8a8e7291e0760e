"""The actions ``resend_file`` and ``repush`` end to end: real runs (dag.test()) of
``dropstream_actions`` and of the connection's orders and tracking DAGs, the real sshd, the
Shopify emulator, the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.dags.test_actions import T0, act, held_and_sent, timeline  # noqa: F401 - a fixture
from tests.dags.test_end_to_end import order_numbers

pytestmark = [pytest.mark.slow, pytest.mark.sshd]

SHIPMENTS = (
    "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,ship_date\r\n"
    "AC-6003,1,SKU-1,1,UPS,Ground,1ZREPUSH,2026-11-20\r\n"
)


@pytest.fixture
def sent(held_and_sent, capfd):  # noqa: F811 - the fixture imported above
    """6003 published in the first file; 6001 released and published in a second one."""
    d = held_and_sent
    state, log = act(d, capfd, action="release", connection=d.name, target="6001", reason="ok")
    assert state == "success", log
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert sorted(order_numbers(d.files("in"))) == ["AC-6001", "AC-6003"]
    return d


def test_a_whole_file_goes_again_in_a_new_file_once_per_reason(sent, capfd):
    d = sent
    (first,) = [n for n, data in d.files("in").items() if b"AC-6003" in data]
    for _ in range(2):
        state, log = act(
            d, capfd, action="resend_file", connection=d.name, target=first, reason="3PL lost it"
        )
        assert state == "success", log
    assert f"{first} was already resent for '3PL lost it': nothing to do" in log
    files = d.files("in")
    assert len(files) == 3
    (again,) = [n for n in files if "resend" in n]
    assert order_numbers({again: files[again]}) == ["AC-6003"]  # only that file's order
    assert timeline(d, "6003")[-1] == (
        "resent",
        f"in {again} (resend of {first}): 3PL lost it",
        "dag_test",
    )
    state, log = act(
        d, capfd, action="resend_file", connection=d.name, target="nope.csv", reason="x"
    )
    assert state == "failed" and "no order file 'nope.csv'" in log


def test_a_shipped_order_is_not_in_a_file_resend_and_a_shipment_is_pushed_again(sent, capfd):
    d = sent
    (first,) = [n for n, data in d.files("in").items() if b"AC-6003" in data]
    d.write("out", "shp_1.csv", SHIPMENTS)
    assert d.run("tracking", T0 + timedelta(hours=4)).state == "success"
    pushed = list(d.shop.fulfillments)
    assert len(pushed) == 1
    state, log = act(d, capfd, action="resend_file", connection=d.name, target=first, reason="y")
    assert state == "success" and "nothing to resend" in log  # 6003 is shipped
    for _ in range(2):
        state, log = act(
            d, capfd, action="repush", connection=d.name, target="6003", reason="store lost it"
        )
        assert state == "success", log
    assert "nothing to re-push (6003|1ZREPUSH ready)" in log
    assert timeline(d, "6003")[-1] == (
        "repush_requested",
        "tracking 1ZREPUSH: store lost it",
        "dag_test",
    )
    assert d.run("tracking", T0 + timedelta(hours=8)).state == "success"
    assert d.shop.fulfillments == pushed  # the store already had it: found, not doubled
    assert [e for e, _, _ in timeline(d, "6003")][-2:] == ["repush_requested", "shipped"]


def test_a_file_resend_never_sends_an_order_cancelled_after_it(held_and_sent, capfd):  # noqa: F811
    """6001 and 6004 released into one file; 6001 then cancelled (its cancel file sent at
    once): resending the file sends 6004 only, and 6001 cannot be resent on its own."""
    d = held_and_sent
    for number in ("6001", "6004"):
        state, log = act(d, capfd, action="release", connection=d.name, target=number, reason="ok")
        assert state == "success", log
    assert d.run("orders", T0 + timedelta(minutes=30)).state == "success"
    (second,) = [n for n, data in d.files("in").items() if b"AC-6001" in data]
    assert order_numbers({second: d.files("in")[second]}) == ["AC-6001", "AC-6004"]
    state, log = act(d, capfd, action="cancel", connection=d.name, target="6001", reason="fraud")
    assert state == "success" and "the warehouse was told to cancel it" in log, log
    before = set(d.files("in"))
    state, log = act(
        d, capfd, action="resend_file", connection=d.name, target=second, reason="3PL lost it"
    )
    assert state == "success", log
    files = d.files("in")
    (again,) = set(files) - before
    assert "-resend-" in again
    assert order_numbers({again: files[again]}) == ["AC-6004"]
    assert [e for e, _, _ in timeline(d, "6001")][-2:] == ["cancel_after_send", "cancel_sent"]
    state, log = act(d, capfd, action="resend", connection=d.name, target="6001", reason="x")
    assert state == "failed" and "order 6001 is cancel_sent" in log
    assert d.files("in") == files  # nothing more went

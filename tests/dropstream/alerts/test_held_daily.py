"""Orders still held are raised again once a day (a review nobody answered, "Keep holding")."""

from __future__ import annotations

from datetime import timedelta

from dropstream.alerts.sweep import sweep
from tests.dropstream.alerts.test_sweep import NOW, acme, hold


def test_orders_still_held_are_mailed_again_once_a_day(ledger, smtp):
    spec = acme(emails=["ops@acme.example"])
    hold(ledger, 1, 2)
    assert sweep(spec, ledger, "orders", "load", NOW + timedelta(hours=5)) == 2  # one each
    assert sweep(spec, ledger, "orders", "load", NOW + timedelta(hours=12)) == 0  # same day
    next_day = NOW + timedelta(days=1)
    assert sweep(spec, ledger, "orders", "load", next_day) == 1
    for hours in (1, 6):  # later runs that day: nothing more
        assert sweep(spec, ledger, "orders", "load", next_day + timedelta(hours=hours)) == 0
    digest = smtp.received()[-1]
    assert "orders still held (daily digest)" in digest.subject and "acme" in digest.subject
    assert "2 order(s) still held on 2026-11-21" in digest.body
    assert "order #1001, held since 2026-11-20 08:00 UTC: no ship method for PIGEON" in digest.body
    assert "What to do" in digest.body
    assert sweep(spec, ledger, "orders", "load", NOW + timedelta(days=2)) == 1  # and the next
    assert len(smtp.received()) == 4


def test_nothing_held_long_enough_yesterday_no_digest(ledger, smtp):
    hold(ledger, 1, at=NOW + timedelta(hours=15))  # 23:00: not held 4 hours before midnight
    assert sweep(acme(), ledger, "orders", "load", NOW + timedelta(hours=17)) == 0
    assert sweep(acme(), ledger, "orders", "load", NOW + timedelta(hours=20)) == 1
    [mail] = smtp.received()
    assert "order held too long (order #1001)" in mail.subject  # the order's own alert only

"""Cancellations and changes after sending, in the ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dropstream.errors import LedgerConflictError
from dropstream.models import Address, Cancellation, OrderLine
from tests.dropstream.test_ledger import NOW, order


def later(minutes: int):
    return NOW + timedelta(minutes=minutes)


def events(ledger, order_id: str) -> list[tuple[str, str]]:
    return [(e.event, e.detail) for e in ledger.order_timeline("c", order_id)]


def publish(ledger, *orders, name="ord_1.csv", at=1):
    """Orders received -> ready -> in a published order file."""
    ledger.record_received("c", list(orders), later(at))
    ledger.set_order_states("c", [(o.order_id, "ready", "", None) for o in orders], later(at))
    ledger.create_order_file("c", "/in", name, b"x", [o.order_id for o in orders], later(at))
    ledger.mark_file_committing("c", name)
    ledger.mark_file_published("c", name, later(at))


def cancelled(o, reason="customer changed their mind", at=5):
    return Cancellation(order=o, cancelled_at=later(at), reason=reason)


def test_cancelled_before_sending_is_never_sent_and_recorded_once(ledger):
    held, ready, fresh = order(1), order(2), order(3)
    ledger.record_received("c", [held, ready, fresh], NOW)
    ledger.set_order_states(
        "c",
        [(held.order_id, "held", "address incomplete", None), (ready.order_id, "ready", "", None)],
        later(1),
    )
    counts = ledger.record_cancellations(
        "c", [cancelled(held), cancelled(ready), cancelled(fresh)], later(5), run="r1"
    )
    assert counts == {"cancelled": 3, "cancel_after_send": 0, "already": 0}
    # the same cancellations seen again (overlapping windows, a backfill): nothing new
    again = ledger.record_cancellations("c", [cancelled(held), cancelled(ready)], later(20))
    assert again == {"cancelled": 0, "cancel_after_send": 0, "already": 2}
    assert ledger.order_counts("c") == {"cancelled": 3}
    assert ledger.orders_in_state("c", "ready") == []
    assert ledger.orders_to_cancel("c") == []
    assert events(ledger, ready.order_id)[-1] == ("cancelled", "customer changed their mind")
    assert [e for e, _ in events(ledger, held.order_id)].count("cancelled") == 1
    # fetched again later (a backfill over an older window): it stays cancelled
    ledger.record_received("c", [held], later(30))
    assert ledger.order_row("c", held.order_id)["state"] == "cancelled"


def test_an_order_cancelled_before_it_was_ever_fetched_is_recorded_cancelled(ledger):
    never_seen = order(9)
    counts = ledger.record_cancellations("c", [cancelled(never_seen, "fraud")], later(5))
    assert counts["cancelled"] == 1
    ledger.record_received("c", [never_seen], later(6))  # a later fetch does not revive it
    row = ledger.order_row("c", never_seen.order_id)
    assert (row["state"], row["reason"]) == ("cancelled", "fraud")
    assert [e for e, _ in events(ledger, never_seen.order_id)] == ["cancelled"]


def test_cancelled_after_publishing_goes_in_one_cancel_file_exactly_once(ledger):
    one, two, shipped = order(1), order(2), order(3)
    publish(ledger, one, two, shipped)
    ledger.set_order_states(
        "c", [(shipped.order_id, "shipped", "", None)], later(2), from_states=("published",)
    )
    counts = ledger.record_cancellations(
        "c", [cancelled(one), cancelled(two, "out of stock"), cancelled(shipped)], later(5)
    )
    assert counts == {"cancelled": 0, "cancel_after_send": 3, "already": 0}
    assert ledger.record_cancellations("c", [cancelled(one)], later(6))["already"] == 1
    # shipped: too late for the warehouse, recorded and said so, never in a cancel file
    assert "already shipped" in events(ledger, shipped.order_id)[-1][1]
    pending = ledger.orders_to_cancel("c")
    assert [(o.order_id, why) for o, why in pending] == [
        (one.order_id, "customer changed their mind"),
        (two.order_id, "out of stock"),
    ]

    both = [one.order_id, two.order_id]
    ledger.create_cancel_file("c", "/in", "cxl_1.csv", b"order_number\r\n", both, later(7))
    assert ledger.orders_to_cancel("c") == []
    assert ledger.order_counts("c") == {"cancelling": 2, "shipped": 1}
    (row,) = [f for f in ledger.unfinished_files("c")]
    assert (row["file_name"], row["kind"], row["state"]) == ("cxl_1.csv", "cancel", "staged")
    ledger.mark_file_committing("c", "cxl_1.csv")
    assert ledger.mark_file_published("c", "cxl_1.csv", later(8)) == 2
    assert ledger.order_counts("c") == {"cancel_sent": 2, "shipped": 1}
    assert events(ledger, one.order_id)[-2:] == [
        ("cancel_after_send", "customer changed their mind"),
        ("cancel_sent", "cxl_1.csv"),
    ]
    # published never goes back; the same cancellation seen again adds nothing
    with pytest.raises(LedgerConflictError):
        ledger.mark_file_published("c", "cxl_1.csv", later(9))
    assert ledger.record_cancellations("c", [cancelled(one)], later(10))["already"] == 1
    assert ledger.orders_to_cancel("c") == []
    # a package the warehouse shipped anyway is still matched to the cancelled order
    assert ledger.orders_sent_as(["c"], [one.number]) == {
        one.number: [("c", one.order_id, one.number)]
    }


def test_a_cancel_file_claim_that_lost_a_race_rolls_back_whole(ledger):
    one, two = order(1), order(2)
    publish(ledger, one, two)
    ledger.record_cancellations("c", [cancelled(one), cancelled(two)], later(5))
    ledger.create_cancel_file("c", "/in", "cxl_a.csv", b"a", [one.order_id], later(6))
    with pytest.raises(LedgerConflictError, match="taken by another run"):
        ledger.create_cancel_file(
            "c", "/in", "cxl_b.csv", b"b", [one.order_id, two.order_id], later(6)
        )
    assert [f["file_name"] for f in ledger.unfinished_files("c")] == ["cxl_a.csv"]
    assert [o.order_id for o, _ in ledger.orders_to_cancel("c")] == [two.order_id]


def test_cancelled_while_in_an_unpublished_file_waits_for_its_publication(ledger):
    one = order(1)
    ledger.record_received("c", [one], NOW)
    ledger.set_order_states("c", [(one.order_id, "ready", "", None)], later(1))
    ledger.create_order_file("c", "/in", "ord_1.csv", b"x", [one.order_id], later(2))
    assert ledger.record_cancellations("c", [cancelled(one)], later(3))["cancel_after_send"] == 1
    assert ledger.orders_to_cancel("c") == []  # the warehouse may not have it yet
    ledger.mark_file_committing("c", "ord_1.csv")
    ledger.mark_file_published("c", "ord_1.csv", later(4))
    assert [o.order_id for o, _ in ledger.orders_to_cancel("c")] == [one.order_id]


def test_operator_cancel_of_a_sent_order_joins_the_same_path(ledger):
    one = order(1)
    publish(ledger, one)
    assert ledger.cancel_order("c", one.order_id, later(5), reason="fraud", actor="ops") == (
        "published",
        True,
    )
    assert ledger.cancel_order("c", one.order_id, later(6), reason="fraud", actor="ops") == (
        "published",
        False,
    )
    assert [o.order_id for o, _ in ledger.orders_to_cancel("c")] == [one.order_id]
    (event,) = [e for e in ledger.order_timeline("c", one.order_id) if e.event.startswith("canc")]
    assert (event.event, event.detail, event.actor) == ("cancel_after_send", "fraud", "ops")
    # the store then reports the same cancellation: still one request
    assert ledger.record_cancellations("c", [cancelled(one)], later(7))["already"] == 1


def test_a_change_after_sending_is_recorded_once_with_what_changed(ledger):
    one, other = order(1), order(2)
    publish(ledger, one, other)
    ledger.record_received("c", [one, other], later(10))  # fetched again unchanged: nothing
    steps = [e for e, _ in events(ledger, one.order_id)]
    assert steps == ["received", "ready", "in_file", "published"]
    extra = OrderLine(line_id="L9", sku="SKU-9", quantity=1, unit_price=one.lines[0].unit_price)
    moved = replace(
        one,
        ship_to=replace(one.ship_to, city="Lyon", postal_code="69001"),
        lines=(*one.lines, extra),
    )
    for minute in (20, 21):  # two runs see the same change: one event
        ledger.record_received("c", [moved], later(minute), run="r2")
    changes = [d for e, d in events(ledger, one.order_id) if e == "changed_after_send"]
    assert changes == [
        "not sent again: line added: SKU-9 x 1; ship-to city 'Paris' -> 'Lyon'; "
        "ship-to postal_code '75001' -> '69001'"
    ]
    assert ledger.order_row("c", one.order_id)["state"] == "published"  # not re-sent
    assert ledger.orders_in_state("c", "ready") == []
    assert ledger.changed_after_send_count("c") == 1
    quantity = replace(moved, lines=(replace(moved.lines[0], quantity=5), moved.lines[1]))
    ledger.record_received("c", [quantity], later(30))
    changes = [d for e, d in events(ledger, one.order_id) if e == "changed_after_send"]
    assert changes[-1] == "not sent again: line SKU-1 x 2 is now SKU-1 x 5"
    assert ledger.changed_after_send_count("c") == 1  # still one order


def test_a_change_before_sending_is_decided_again_not_flagged(ledger):
    held, ready = order(1), order(2)
    ledger.record_received("c", [held, ready], NOW)
    ledger.set_order_states(
        "c", [(held.order_id, "held", "x", None), (ready.order_id, "ready", "", None)], later(1)
    )
    new_address = Address(
        name="Zoë Ünal", address1="2 Quai", city="Lyon", postal_code="69001", country="FR"
    )
    ledger.record_received(
        "c", [replace(held, ship_to=new_address), replace(ready, ship_to=new_address)], later(2)
    )
    assert ledger.changed_after_send_count("c") == 0
    # the ready one goes back to be decided again, with what the store shows now
    assert [o.ship_to.city for o in ledger.orders_in_state("c", "received")] == ["Lyon"]
    assert [o.ship_to.city for o in ledger.orders_in_state("c", "held")] == ["Lyon"]

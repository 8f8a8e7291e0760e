"""Each order's timeline, written by the ledger's own state changes (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dropstream.models import Shipment, ShipmentLine
from tests.dropstream.test_ledger import NOW, order


def later(minutes: int):
    return NOW + timedelta(minutes=minutes)


def timeline(ledger, order_id: str) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.event, e.detail, e.run_id, e.actor) for e in ledger.order_timeline("c", order_id)]


def test_an_order_s_life_from_store_to_shipment(ledger):
    one, two = order(1), order(2)
    ledger.record_received("c", [one, two], NOW, run="run-1")
    ledger.record_received("c", [one], later(1), run="run-2")  # seen again: no second event
    ready = replace(one, number=f"ACME-{one.number}")  # as the warehouse will see it
    ledger.set_order_states(
        "c",
        [
            (one.order_id, "ready", "", ready),
            (two.order_id, "held", "no ship method for PIGEON", None),
        ],
        later(2),
        run="run-1",
    )
    # the next run decides the same again: the held order keeps its one event
    ledger.set_order_states(
        "c", [(two.order_id, "held", "no ship method for PIGEON", None)], later(15), run="run-2"
    )
    ledger.create_order_file("c", "/in", "ord_1.csv", b"x", [one.order_id], later(3), run="run-1")
    ledger.mark_file_committing("c", "ord_1.csv")
    assert ledger.mark_file_published("c", "ord_1.csv", later(4), run="run-1") == 1

    package = Shipment(
        order_number=one.number,
        tracking_number="1Z999",
        carrier="UPS",
        service="Ground",
        lines=(ShipmentLine(sku="SKU-1", quantity=2),),
    )
    assert ledger.record_shipments("c", [package], "ship_1.csv", later(60), run="run-t")
    matched = replace(package, order_id=one.order_id)
    ledger.set_shipment_state("c", matched, "ready", later(61), expected=("received",))
    ledger.set_shipment_state("c", matched, "pushing", later(62), expected=("ready",))
    ledger.set_shipment_state(
        "c", matched, "pushed", later(63), expected=("pushing",), run="run-t", platform_id="F1"
    )
    ledger.set_order_states(
        "c", [(one.order_id, "shipped", "", None)], later(63), from_states=("published",)
    )

    assert timeline(ledger, one.order_id) == [
        ("received", "", "run-1", None),
        ("ready", "", "run-1", None),
        ("in_file", "ord_1.csv", "run-1", None),
        ("published", "ord_1.csv", "run-1", None),
        ("shipment_received", "UPS Ground tracking 1Z999, 2 unit(s) in ship_1.csv", "run-t", None),
        ("shipped", "UPS Ground tracking 1Z999, 2 unit(s)", "run-t", None),
    ]
    assert timeline(ledger, two.order_id) == [
        ("received", "", "run-1", None),
        ("held", "no ship method for PIGEON", "run-1", None),
    ]
    events = ledger.order_timeline("c", one.order_id)
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert events[-1].as_dict()["meaning"] == "shipment pushed to the store"
    assert ledger.order_timeline("other", one.order_id) == []  # per connection


def test_a_refused_and_an_unknown_shipment_are_on_record(ledger):
    one = order(1)
    ledger.record_received("c", [one], NOW)
    package = Shipment(order_number=one.number, tracking_number="T1", carrier="USPS", lines=())
    ledger.record_shipments("c", [package], "s.csv", later(1))
    matched = replace(package, order_id=one.order_id)
    ledger.set_shipment_state("c", matched, "pushing", later(2), expected=("received",))
    ledger.set_shipment_state(
        "c", matched, "rejected", later(3), expected=("pushing",), reason="order is closed"
    )
    assert timeline(ledger, one.order_id)[-1] == (
        "shipment_rejected",
        "USPS tracking T1, 0 unit(s): order is closed",
        None,
        None,
    )

    stray = Shipment(order_number="W-77", tracking_number="T9", carrier="FedEx", lines=())
    reason = "no connection sharing the folder sent this order"
    ledger.record_shipments("c", [stray], "s.csv", later(4), state="unknown_order", reason=reason)
    ledger.record_shipments("c", [stray], "s.csv", later(5), state="unknown_order", reason=reason)
    (unknown,) = ledger.connection_events("c", event="unknown_shipment")
    assert (unknown.order_number, unknown.order_id) == ("W-77", "")
    assert unknown.detail == f"FedEx tracking T9, 0 unit(s) in s.csv: {reason}"


def test_cancel_never_sends_and_is_recorded_once(ledger):
    held, sent = order(1), order(2)
    ledger.record_received("c", [held, sent], NOW)
    ledger.set_order_states(
        "c",
        [(held.order_id, "held", "address incomplete", None), (sent.order_id, "ready", "", None)],
        later(1),
    )
    ledger.create_order_file("c", "/in", "ord_2.csv", b"x", [sent.order_id], later(2))

    assert ledger.cancel_order(
        "c", held.order_id, later(3), reason="customer called", actor="ops@acme"
    ) == ("held", True)
    assert ledger.cancel_order(
        "c", held.order_id, later(4), reason="customer called", actor="ops@acme"
    ) == ("cancelled", False)
    ledger.set_order_states("c", [(held.order_id, "ready", "", None)], later(5))  # not from here
    assert ledger.orders_in_state("c", "ready") == []
    assert timeline(ledger, held.order_id)[-1] == ("cancelled", "customer called", None, "ops@acme")
    assert [e for e, *_ in timeline(ledger, held.order_id)].count("cancelled") == 1

    # Already in a file: the state stays (the warehouse has it); the request is recorded once.
    for _ in range(2):
        ledger.cancel_order("c", sent.order_id, later(6), reason="fraud", actor="ops@acme")
    assert ledger.order_counts("c") == {"cancelled": 1, "in_file": 1}
    assert [e for e, *_ in timeline(ledger, sent.order_id)] == [
        "received",
        "ready",
        "in_file",
        "cancel_after_send",
    ]
    with pytest.raises(KeyError):
        ledger.cancel_order("c", "gid://shopify/Order/404", later(7), reason="x")


def test_an_unknown_event_name_is_refused():
    from dropstream.ledger.events import event_row

    with pytest.raises(ValueError, match="unknown order event 'teleported'"):
        event_row("c", "1", "1001", "teleported", NOW)

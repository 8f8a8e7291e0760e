from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from dropstream.errors import LedgerConflictError
from dropstream.models import Address, Order, OrderLine, Shipment, ShipmentLine

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def order(n: int, sku: str = "SKU-1") -> Order:
    return Order(
        order_id=f"gid://shopify/Order/{n}",
        number=str(1000 + n),
        created_at=NOW,
        updated_at=NOW,
        ship_to=Address(
            name="Zoë Ünal",
            address1="1 Rue de l'Été",
            city="Paris",
            postal_code="75001",
            country="FR",
        ),
        lines=(OrderLine(line_id=f"L{n}", sku=sku, quantity=2, unit_price=Decimal("19.99")),),
        ship_method="UPS_GROUND",
    )


def test_orders_insert_once_and_keep_state(ledger):
    assert ledger.record_received("c", [order(1), order(2)], NOW) == 2
    assert ledger.record_received("c", [order(1), order(3)], NOW) == 1
    assert ledger.record_received("other", [order(1)], NOW) == 1  # per connection
    changes = [(order(1).order_id, "ready", "", None)]
    assert ledger.set_order_states("c", changes, NOW) == 1
    ledger.record_received("c", [order(1)], NOW)
    assert [o.order_id for o in ledger.orders_in_state("c", "ready")] == [order(1).order_id]
    got = ledger.orders_in_state("c", "ready")[0]
    assert got.lines[0].unit_price == Decimal("19.99") and got.ship_to.name == "Zoë Ünal"
    assert ledger.order_counts("c") == {"ready": 1, "received": 2}


def test_order_file_claims_atomically(ledger):
    ledger.record_received("c", [order(1), order(2)], NOW)
    ids = [order(1).order_id, order(2).order_id]
    ledger.set_order_states("c", [(i, "ready", "", None) for i in ids], NOW)
    ledger.create_order_file("c", "/in", "ord_a.csv", b"data", ids, NOW)
    assert ledger.orders_in_state("c", "ready") == []
    # The same orders cannot go into a second file: the claim fails and records nothing.
    with pytest.raises(LedgerConflictError):
        ledger.create_order_file("c", "/in", "ord_b.csv", b"data", ids, NOW)
    assert [f["file_name"] for f in ledger.unfinished_files("c")] == ["ord_a.csv"]
    # The same file name cannot be recorded twice.
    with pytest.raises(IntegrityError):
        ledger.create_order_file("c", "/in", "ord_a.csv", b"x", [], NOW)
    with pytest.raises(LedgerConflictError, match="is staged, not committing"):
        ledger.mark_file_published("c", "ord_a.csv", NOW)  # never before the rename
    ledger.mark_file_committing("c", "ord_a.csv")
    with pytest.raises(LedgerConflictError, match="is committing, not staged"):
        ledger.mark_file_committing("c", "ord_a.csv")  # a second run cannot stage it again
    assert ledger.mark_file_published("c", "ord_a.csv", NOW) == 2
    assert ledger.unfinished_files("c") == []
    assert ledger.published_files("c") == ["ord_a.csv"]
    assert ledger.order_counts("c") == {"published": 2}
    # published never goes back, and is never published twice
    with pytest.raises(LedgerConflictError, match="is published"):
        ledger.mark_file_committing("c", "ord_a.csv")
    with pytest.raises(LedgerConflictError, match="is published"):
        ledger.mark_file_published("c", "ord_a.csv", NOW)
    assert ledger.published_files("c") == ["ord_a.csv"]


def test_shipments_once_by_key(ledger):
    s = Shipment(
        order_number="1001",
        tracking_number="1Z1",
        carrier="UPS",
        lines=(ShipmentLine(sku="SKU-1", quantity=1),),
        shipped_at=NOW,
    )
    assert ledger.record_shipments("c", [s, s], "shp_1.csv", NOW) == [s]
    assert ledger.record_shipments("c", [s], "shp_2.csv", NOW) == []
    assert ledger.set_shipment_state("c", s, "pushed", NOW, expected=("pushing",)) == 0
    assert ledger.set_shipment_state("c", s, "pushing", NOW, expected=("received",)) == 1
    assert ledger.set_shipment_state("c", s, "pushing", NOW, expected=("received",)) == 0
    ledger.set_shipment_state("c", s, "pushed", NOW, expected=("pushing",), platform_id="F/1")
    assert ledger.shipments_in_state("c", "received") == []
    assert ledger.shipment_counts("c") == {"pushed": 1}


def test_unknown_shipment_handed_over_once(ledger):
    kept = Shipment(order_number="A-1001", tracking_number="1Z9", carrier="UPS", lines=())
    assert ledger.record_shipments("folder", [kept], "shp_1.csv", NOW, state="unknown_order")
    mine = Shipment(order_number="1001", tracking_number="1Z9", carrier="UPS", lines=())
    assert ledger.hand_over_shipment("folder", kept.key, "store-a", mine, NOW) is True
    assert ledger.hand_over_shipment("folder", kept.key, "store-a", mine, NOW) is False
    assert ledger.shipment_counts("folder") == {"handed_over": 1}
    assert [s.key for s, _ in ledger.shipments_in_state("store-a", "received")] == ["1001|1Z9"]


def test_orders_are_found_by_the_number_the_warehouse_saw(ledger):
    from dataclasses import replace

    ledger.record_received("a", [order(1)], NOW)
    ledger.record_received("b", [order(1)], NOW)  # the same store number in another store
    for conn, prefix in (("a", "A-"), ("b", "B-")):
        sent = replace(order(1), number=prefix + order(1).number)
        ledger.set_order_states(conn, [(sent.order_id, "ready", "", sent)], NOW)
        ledger.create_order_file(conn, "/in", f"ord_{conn}.csv", b"x", [sent.order_id], NOW)
    found = ledger.orders_sent_as(["a", "b"], ["A-1001", "B-1001", "1001"])
    assert found == {
        "A-1001": [("a", order(1).order_id, "1001")],
        "B-1001": [("b", order(1).order_id, "1001")],
    }
    assert ledger.orders_sent_as(["b"], ["A-1001"]) == {}  # only among the given connections


def test_lease_one_holder_waits_then_takes_over_an_expired_one(ledger):
    import threading
    import time

    from dropstream.errors import LeaseBusyError, LeaseLostError

    with ledger.lease("c", "orders", run="first", ttl=30) as held:
        held.confirm()
        assert "first" in ledger.lease_holder("c", "orders")
        busy = pytest.raises(LeaseBusyError, match="another run .*first.* has held the orders")
        with busy, ledger.lease("c", "orders", run="second", ttl=30, wait=0.3):
            pass
        with (
            ledger.lease("c", "tracking", run="second", ttl=30),  # per flow
            ledger.lease("d", "orders", run="second", ttl=30),  # per connection
        ):
            pass
    assert ledger.lease_holder("c", "orders") is None  # given back

    # A waiting run gets the lease as soon as the holder is done.
    events = []

    def second_run() -> None:
        with ledger.lease("c", "orders", run="second", ttl=30, wait=10):
            events.append("second got it")

    with ledger.lease("c", "orders", run="first", ttl=30):
        waiter = threading.Thread(target=second_run)
        waiter.start()
        time.sleep(0.5)
        events.append("first done")
    waiter.join(timeout=10)
    assert events == ["first done", "second got it"]

    # A holder that stops renewing (killed) loses the lease once it expires.
    ledger._take("c", "orders", "killed run", timedelta(seconds=0.5))
    with ledger.lease("c", "orders", run="next", ttl=30, wait=10) as next_holder:
        next_holder.confirm()
    # A holder whose lease was taken away stops before acting.
    with ledger.lease("c", "orders", run="slow", ttl=0.6) as slow:
        slow._stop.set()  # its renewals stop (a stalled worker)
        time.sleep(0.5)
        with pytest.raises(LeaseLostError, match="was not renewed in time"):
            slow.confirm()


def test_inventory_newest_wins_and_only_changes_push(ledger):
    older, newer = NOW - timedelta(hours=1), NOW
    ledger.record_warehouse_levels("c", [("A", 5, newer), ("B", 7, newer)], "inv_2.csv")
    ledger.record_warehouse_levels("c", [("A", 99, older)], "inv_1.csv")  # older snapshot loses
    levels = {r["sku"]: r["warehouse_available"] for r in ledger.warehouse_levels("c")}
    assert levels == {"A": 5, "B": 7}
    ledger.set_targets("c", {"A": 5, "B": 7})
    assert ledger.inventory_to_push("c") == {"A": 5, "B": 7}
    ledger.record_inventory_pushed("c", {"A": 5, "B": 7}, NOW)
    assert ledger.inventory_to_push("c") == {}
    ledger.set_targets("c", {"A": 4, "B": 7})
    assert ledger.inventory_to_push("c") == {"A": 4}


def test_watermark_only_moves_forward(ledger):
    assert ledger.watermark("c", "orders") is None
    assert ledger.advance_watermark("c", "orders", NOW) == NOW
    assert ledger.advance_watermark("c", "orders", NOW - timedelta(hours=1)) == NOW
    later = NOW + timedelta(minutes=15)
    assert ledger.advance_watermark("c", "orders", later) == later
    assert ledger.watermark("c", "orders") == later


def test_seen_files_and_counters(ledger):
    assert ledger.file_state("c", "inventory", "inv_1.csv") is None
    ledger.mark_seen("c", "inventory", "inv_1.csv", "read", NOW)
    ledger.mark_seen("c", "inventory", "inv_1.csv", "archived", NOW)
    assert ledger.file_state("c", "inventory", "inv_1.csv") == "archived"
    assert [ledger.next_counter("c", "isa") for _ in range(3)] == [1, 2, 3]
    assert ledger.next_counter("d", "isa") == 1

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
    ledger.mark_file("c", "ord_a.csv", "committing")
    assert ledger.mark_file_published("c", "ord_a.csv", NOW) == 2
    assert ledger.unfinished_files("c") == []
    assert ledger.published_files("c") == ["ord_a.csv"]
    assert ledger.order_counts("c") == {"published": 2}


def test_shipments_once_by_key(ledger):
    s = Shipment(
        order_number="1001",
        tracking_number="1Z1",
        carrier="UPS",
        lines=(ShipmentLine(sku="SKU-1", quantity=1),),
        shipped_at=NOW,
    )
    assert ledger.record_shipments("c", [s, s], "shp_1.csv", NOW) == 1
    assert ledger.record_shipments("c", [s], "shp_2.csv", NOW) == 0
    ledger.set_shipment_state("c", s, "pushed", NOW, platform_id="gid://F/1")
    assert ledger.shipments_in_state("c", "received") == []
    assert ledger.shipment_counts("c") == {"pushed": 1}


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

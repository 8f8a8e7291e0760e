"""The order-number prefix in every format: out on the order, back off the shipment (pure)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dropstream.models import Address, Order, OrderLine
from dropstream.rules.fulfillment import decide
from dropstream.spec import Rules
from tests.dags.warehouse_files import FORMATS, file_format, order_numbers, shipment_file

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def store_order(number: str) -> Order:
    return Order(
        order_id=f"gid://shopify/Order/{number}",
        number=number,
        created_at=NOW,
        updated_at=NOW,
        ship_to=Address("Ada Buyer", "1 Main St", "Springfield", "97477", "US", state="OR"),
        lines=(OrderLine("L1", "SKU-1", 1, Decimal("10.00")),),
        ship_method="UPS",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_prefixed_number_goes_out_and_comes_back_in_every_format(fmt):
    decision = decide(store_order("1001"), Rules(order_number_prefix="B-"))
    assert decision.state == "ready" and decision.order.number == "B-1001"
    file_format = file_format_for_run(fmt)
    assert file_format.order_problems(decision.order) == []
    buffer = io.BytesIO()
    file_format.write_orders([decision.order], buffer, file_name="ord_1")
    assert order_numbers(fmt, buffer.getvalue()) == ["B-1001"]
    shipped = shipment_file(fmt, "B-1001", [("SKU-1", 1)], tracking="1Z1", shipped_on=NOW)
    (shipment,) = file_format.read_shipments(io.BytesIO(shipped), file_name="shp_1")
    assert shipment.order_number == "B-1001"  # matched on the ledger's warehouse_number


def file_format_for_run(fmt: str):
    counters = iter(range(1, 100))
    return file_format(fmt).for_run(now=NOW, next_control_number=lambda _name: next(counters))


def test_no_prefix_leaves_the_number_alone():
    assert decide(store_order("1001"), Rules()).order.number == "1001"

"""Spreading shipped quantities over open lines (include/adapters/allocation.py)."""

from __future__ import annotations

import pytest

from adapters.allocation import OpenLine, allocate, totals
from adapters.results import Rejected
from dropstream.models import Shipment, ShipmentLine


def _shipment(*lines: ShipmentLine) -> Shipment:
    return Shipment(order_number="1001", tracking_number="1Z", carrier="UPS", lines=lines)


def _unmatched(line: ShipmentLine) -> str:
    return f"no line for {line.line_id or line.sku}"


def test_a_sku_spreads_over_its_lines_capped_by_what_remains():
    open_lines = [
        OpenLine("a", "L1", "MUG", remaining=1),
        OpenLine("b", "L2", "MUG", remaining=5),
        OpenLine("c", "L3", "TEE", remaining=2),
    ]
    takes = allocate(_shipment(ShipmentLine("MUG", 4)), open_lines, unmatched=_unmatched)
    assert [(t.line.id, t.quantity) for t in takes] == [("a", 1), ("b", 3)]


def test_a_line_id_wins_over_the_sku_and_two_lines_share_what_remains():
    open_lines = [OpenLine("a", "L1", "MUG", remaining=3), OpenLine("b", "L2", "MUG", remaining=3)]
    shipment = _shipment(ShipmentLine("MUG", 2, line_id="L2"), ShipmentLine("MUG", 2, line_id="L2"))
    takes = allocate(shipment, open_lines, unmatched=_unmatched)
    assert totals(takes) == {"b": 3}  # the second line gets the one unit left on L2


def test_nothing_left_is_an_empty_allocation_and_an_unknown_line_is_rejected():
    shipped = [OpenLine("a", "L1", "MUG", remaining=0)]
    assert allocate(_shipment(ShipmentLine("MUG", 1)), shipped, unmatched=_unmatched) == []
    with pytest.raises(Rejected, match="no line for TEE"):
        allocate(_shipment(ShipmentLine("TEE", 1)), shipped, unmatched=_unmatched)

"""Bundles back from the warehouse: components close the bundle line; stock of a bundle."""

from __future__ import annotations

import pytest

from dropstream.models import ShipmentLine
from dropstream.rules.bundles import bundle_available, bundle_shipment_lines
from dropstream.rules.fulfillment import decide
from dropstream.spec import Rules
from tests.dropstream.rules._orders import line, order

RULES = Rules(bundles={"KIT": {"MUG": 1, "SPOON": 2}})
# Sent: TEE x1 (line L1), KIT x2 (line L2) -> MUG x2, SPOON x4, both with line id L2.
SENT = decide(order(line("TEE", 1, 1), line("KIT", 2, 2)), RULES).order.lines


def shipped(*lines: tuple[str, int, str]) -> list[ShipmentLine]:
    return [ShipmentLine(sku, qty, line_id=line_id) for sku, qty, line_id in lines]


CASES = [
    (
        "whole bundles and a plain line",
        shipped(("TEE", 1, "L1"), ("MUG", 2, "L2"), ("SPOON", 4, "L2")),
        [("TEE", 1, "L1"), ("KIT", 2, "L2")],
        [],
    ),
    (
        "one of two bundles",
        shipped(("MUG", 1, "L2"), ("SPOON", 2, "L2")),
        [("KIT", 1, "L2")],
        [],
    ),
    (
        "components for one and a half bundles",
        shipped(("MUG", 2, "L2"), ("SPOON", 3, "L2")),
        [("KIT", 1, "L2")],
        [
            "bundle KIT: this package completes 1 bundle(s); components beyond that "
            "(MUG x1, SPOON x1) are not reported to the store"
        ],
    ),
    (
        "a component alone completes nothing",
        shipped(("MUG", 2, "L2")),
        [],
        [
            "bundle KIT: this package completes 0 bundle(s); components beyond that "
            "(MUG x2) are not reported to the store"
        ],
    ),
    (
        "a component shipped over two lines",
        shipped(("MUG", 2, "L2"), ("SPOON", 1, "L2"), ("SPOON", 3, "L2")),
        [("KIT", 2, "L2")],
        [],
    ),
    (
        "plain lines untouched",
        shipped(("TEE", 1, "L1")),
        [("TEE", 1, "L1")],
        [],
    ),
]


@pytest.mark.parametrize(("case", "lines", "pushed", "notes"), CASES, ids=[c[0] for c in CASES])
def test_bundle_shipment_lines(case, lines, pushed, notes):
    got, why = bundle_shipment_lines(lines, SENT)
    assert [(ln.sku, ln.quantity, ln.line_id) for ln in got] == pushed
    assert why == notes


@pytest.mark.parametrize(
    ("components", "available", "bundles"),
    [
        ({"MUG": 1, "SPOON": 2}, {"MUG": 10, "SPOON": 7}, 3),
        ({"MUG": 1, "SPOON": 2}, {"MUG": 2, "SPOON": 70}, 2),
        ({"MUG": 1, "SPOON": 2}, {"MUG": 0, "SPOON": 70}, 0),
        ({"MUG": 1, "SPOON": 2}, {"MUG": -3, "SPOON": 70}, 0),
        ({"MUG": 1, "SPOON": 2}, {"MUG": 5}, None),  # a component not reported: publish nothing
        ({"MUG": 1, "SPOON": 2}, {"MUG": 5, "SPOON": None}, None),
    ],
)
def test_bundle_available(components, available, bundles):
    assert bundle_available(components, available) == bundles

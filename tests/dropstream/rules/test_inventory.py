"""Quantities to publish (safety stock, in flight, bundles) and the suspect-snapshot guard."""

from __future__ import annotations

import pytest

from dropstream.rules.inventory import (
    bundle_targets,
    judge_snapshot,
    publishable_quantity,
    safety_units,
)
from dropstream.spec import Rules

CASES = [
    ("no rules", 100, {}, 0, 100),
    ("units", 100, {"safety_stock": 5}, 0, 95),
    ("percent rounds the withheld units up", 101, {"safety_stock_pct": 10}, 0, 90),
    ("percent larger than units", 100, {"safety_stock": 5, "safety_stock_pct": 10}, 0, 90),
    ("units larger than percent", 20, {"safety_stock": 5, "safety_stock_pct": 10}, 0, 15),
    ("never below zero", 3, {"safety_stock": 5}, 0, 0),
    ("in flight ignored unless asked", 100, {}, 12, 100),
    ("in flight subtracted", 100, {"subtract_in_flight": True}, 12, 88),
    ("more in flight than on hand", 10, {"subtract_in_flight": True}, 12, 0),
    ("fractional percent", 1000, {"safety_stock_pct": 2.5}, 0, 975),
]


@pytest.mark.parametrize(("case", "available", "rules", "in_flight", "publish"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_publishable_quantity(case, available, rules, in_flight, publish):
    assert publishable_quantity(available, Rules(**rules), in_flight) == publish


def test_worked_example_of_docs_fulfillment():
    """docs/fulfillment.md, "Worked example": the same numbers."""
    rules = Rules(safety_stock=5, safety_stock_pct=10, subtract_in_flight=True)
    # 240 on hand; orders sent but not shipped hold 37 units -> 203; 10% of 203 = 20.3 -> 21
    # units withheld (more than the 5 fixed) -> 182 published.
    assert safety_units(240 - 37, rules) == 21
    assert publishable_quantity(240, rules, in_flight=37) == 182
    # 30 on hand, 4 in flight -> 26; 10% = 2.6 -> 3, but 5 fixed is larger -> 21 published.
    assert publishable_quantity(30, rules, in_flight=4) == 21


def test_bundle_targets_follow_their_scarcest_component():
    rules = Rules(
        bundles={"KIT": {"MUG": 1, "SPOON": 2}, "DUO": {"MUG": 2}, "ODD": {"NEVER": 1}},
        sku_map={"SPOON": "WH-SPN"},
        safety_stock=1,
    )
    available = {"MUG": 11, "WH-SPN": 9}
    # publishable: MUG 10, WH-SPN 8 -> KIT min(10//1, 8//2) = 4; DUO 10//2 = 5; ODD unreported
    assert bundle_targets(rules, available, {}) == {"KIT": 4, "DUO": 5}
    with_flight = Rules(**{**rules.model_dump(), "subtract_in_flight": True})
    assert bundle_targets(with_flight, available, {"MUG": 3}) == {"KIT": 4, "DUO": 3}


GUARD = [
    ("store with nothing in stock: never suspect", {"A": 0}, {"A": 0}, 50, False, ""),
    ("normal snapshot", {"A": 5, "B": 3}, {"A": 4, "B": 3, "C": 0}, 50, False, ""),
    (
        "all zeros",
        {"A": 5, "B": 3, "C": 0},
        {"A": 0, "B": 0, "C": 0},
        50,
        True,
        "would set 2 of the 2 SKUs in stock in the store to zero (100%, at or above "
        "rules.zero_out_guard_pct 50%)",
    ),
    (
        "exactly at the threshold",
        {"A": 5, "B": 3},
        {"A": 0, "B": 3},
        50,
        True,
        "would set 1 of the 2 SKUs in stock in the store to zero (50%, at or above "
        "rules.zero_out_guard_pct 50%)",
    ),
    ("below the threshold", {"A": 5, "B": 3, "C": 1}, {"A": 0, "B": 3, "C": 1}, 50, False, ""),
    ("a higher threshold lets it through", {"A": 5, "B": 3}, {"A": 0, "B": 3}, 75, False, ""),
    (
        "lists none of the in-stock SKUs",
        {"A": 5, "B": 3},
        {"Z": 10},
        50,
        True,
        "lists none of the 2 SKUs in stock in the store",
    ),
    ("SKUs left out are not zeroed", {"A": 5, "B": 3}, {"A": 5}, 50, False, ""),
]


@pytest.mark.parametrize(("case", "published", "snapshot", "pct", "suspect", "reason"), GUARD,
                         ids=[c[0] for c in GUARD])  # fmt: skip
def test_judge_snapshot(case, published, snapshot, pct, suspect, reason):
    verdict = judge_snapshot(published, snapshot, pct)
    assert (verdict.suspect, verdict.reason) == (suspect, reason)

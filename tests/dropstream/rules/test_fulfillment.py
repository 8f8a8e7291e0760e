"""decide(): every rule, the combinations that matter, every reason word for word."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dropstream.rules.fulfillment import decide
from dropstream.spec import Rules
from tests.dropstream.rules._orders import HOME, PLACED, line, minutes_after, order

NOW = minutes_after(60)
X12_LIMITS = {"name": 60, "address1": 55, "address2": 55, "city": 30, "postal_code": 15}

# (case, order, rules, state, reason, lines sent as (sku, qty, line number, line id))
CASES: list[tuple[str, Any, dict[str, Any], str, str, list[tuple[str, int, int, str]]]] = [
    ("plain order", order(), {}, "ready", "", [("MUG", 1, 1, "L1")]),
    (
        "sku map",
        order(line("MUG", 2)),
        {"sku_map": {"MUG": "WH-MUG"}},
        "ready",
        "",
        [("WH-MUG", 2, 1, "L1")],
    ),
    (
        "skip sku keeps the other line and its number",
        order(line("INSERT", 1, 1), line("MUG", 1, 2)),
        {"skip_skus": ["INSERT"]},
        "ready",
        "",
        [("MUG", 1, 2, "L2")],
    ),
    (
        "gift card line dropped",
        order(line("GIFT-50", 1, 1, requires_shipping=False), line("MUG", 1, 2)),
        {},
        "ready",
        "",
        [("MUG", 1, 2, "L2")],
    ),
    (
        "only non-shipping lines",
        order(line("EBOOK", 1, 1, requires_shipping=False)),
        {},
        "skipped",
        "no lines to ship (all skipped by rules, need no shipping, or zero quantity)",
        [],
    ),
    (
        "bundle becomes its components times the quantity",
        order(line("KIT", 3)),
        {"bundles": {"KIT": {"MUG": 1, "SPOON": 2}}},
        "ready",
        "",
        [("MUG", 3, 1, "L1"), ("SPOON", 6, 2, "L1")],
    ),
    (
        "bundle of mapped components",
        order(line("KIT", 2)),
        {"bundles": {"KIT": {"MUG": 1, "SPOON": 2}}, "sku_map": {"SPOON": "WH-SPN"}},
        "ready",
        "",
        [("MUG", 2, 1, "L1"), ("WH-SPN", 4, 2, "L1")],
    ),
    (
        "bundle with a skipped component",
        order(line("KIT", 1)),
        {"bundles": {"KIT": {"MUG": 1, "LEAFLET": 1}}, "skip_skus": ["LEAFLET"]},
        "ready",
        "",
        [("MUG", 1, 1, "L1")],
    ),
    (
        "bundle beside a plain line: lines renumbered",
        order(line("TEE", 1, 1), line("KIT", 2, 2)),
        {"bundles": {"KIT": {"MUG": 1, "SPOON": 1}}},
        "ready",
        "",
        [("TEE", 1, 1, "L1"), ("MUG", 2, 2, "L2"), ("SPOON", 2, 3, "L2")],
    ),
    (
        "bundle whose components are all skipped",
        order(line("KIT", 1)),
        {"bundles": {"KIT": {"LEAFLET": 1}}, "skip_skus": ["LEAFLET"]},
        "skipped",
        "no lines to ship (all skipped by rules, need no shipping, or zero quantity)",
        [],
    ),
    (
        "include tag present",
        order(tags=("wholesale", "vip")),
        {"include_tags": ["wholesale"]},
        "ready",
        "",
        [("MUG", 1, 1, "L1")],
    ),
    (
        "include tag missing",
        order(tags=("retail",)),
        {"include_tags": ["wholesale", "b2b"]},
        "skipped",
        "has none of the tags in rules.include_tags (wholesale, b2b)",
        [],
    ),
    (
        "exclude tag names the tag",
        order(tags=("vip", "fraud-check")),
        {"exclude_tags": ["fraud-check", "pickup"]},
        "held",
        "tag 'fraud-check' is on rules.exclude_tags",
        [],
    ),
    (
        "included but also excluded: held",
        order(tags=("wholesale", "pickup")),
        {"include_tags": ["wholesale"], "exclude_tags": ["pickup"]},
        "held",
        "tag 'pickup' is on rules.exclude_tags",
        [],
    ),
    (
        "hold country",
        order(ship_to=replace(HOME, country="CA", state="ON", postal_code="K1A 0B1")),
        {"hold_countries": ["ca"]},
        "held",
        "ship-to country CA is on rules.hold_countries",
        [],
    ),
    (
        "country not on ship_countries",
        order(ship_to=replace(HOME, country="DE", state="", postal_code="10115")),
        {"ship_countries": ["US", "CA"]},
        "held",
        "ship-to country DE is not on rules.ship_countries (US, CA)",
        [],
    ),
    (
        "country on ship_countries",
        order(),
        {"ship_countries": ["US"]},
        "ready",
        "",
        [("MUG", 1, 1, "L1")],
    ),
    (
        "unmapped ship method",
        order(ship_method="PIGEON"),
        {"ship_method_map": {"GROUND": "UPS_GROUND"}},
        "held",
        "no ship method for store method 'PIGEON': add it to rules.ship_method_map "
        "or set rules.default_ship_method",
        [],
    ),
    (
        "line without a SKU",
        order(line("", 1)),
        {},
        "held",
        "line(s) [1] have no SKU: give the product a SKU in the store or map it in rules.sku_map",
        [],
    ),
    (
        "address: empty city and postal code",
        order(ship_to=replace(HOME, city="", postal_code="")),
        {},
        "held",
        "address: ship-to city is empty; ship-to postal_code is empty (needed for US)",
        [],
    ),
    (
        "address: bad US state",
        order(ship_to=replace(HOME, state="XX")),
        {},
        "held",
        "address: ship-to state 'XX' is not a US state code (e.g. NY)",
        [],
    ),
    (
        "address: line longer than the file allows",
        order(ship_to=replace(HOME, address1="1 " + "Very Long Road Name " * 3)),
        {},
        "held",
        "address: ship-to address1 is 62 characters, the order file allows 55: "
        "shorten it in the store",
        [],
    ),
    (
        "address checks off",
        order(ship_to=replace(HOME, city="", state="XX")),
        {"address_checks": False},
        "ready",
        "",
        [("MUG", 1, 1, "L1")],
    ),
    (
        "held country wins over the address check",
        order(ship_to=replace(HOME, country="MX", state="", postal_code="")),
        {"hold_countries": ["MX"]},
        "held",
        "ship-to country MX is on rules.hold_countries",
        [],
    ),
    (
        "hold period: too young waits",
        order(),
        {"hold_minutes": 90},
        "waiting",
        "placed 12:00 UTC; rules.hold_minutes keeps it until 2026-11-30 13:30 UTC",
        [],
    ),
    (
        "hold period over",
        order(),
        {"hold_minutes": 60},
        "ready",
        "",
        [("MUG", 1, 1, "L1")],
    ),
    (
        "hold period before a held country: it waits first",
        order(ship_to=replace(HOME, country="CA", state="ON", postal_code="K1A 0B1")),
        {"hold_minutes": 90, "hold_countries": ["CA"]},
        "waiting",
        "placed 12:00 UTC; rules.hold_minutes keeps it until 2026-11-30 13:30 UTC",
        [],
    ),
    (
        "hold period over, then the held country holds it",
        order(ship_to=replace(HOME, country="CA", state="ON", postal_code="K1A 0B1")),
        {"hold_minutes": 30, "hold_countries": ["CA"]},
        "held",
        "ship-to country CA is on rules.hold_countries",
        [],
    ),
    (
        "hold period before an excluded tag",
        order(tags=("pickup",)),
        {"hold_minutes": 90, "exclude_tags": ["pickup"]},
        "waiting",
        "placed 12:00 UTC; rules.hold_minutes keeps it until 2026-11-30 13:30 UTC",
        [],
    ),
]


@pytest.mark.parametrize(
    ("case", "the_order", "rules", "state", "reason", "sent"), CASES, ids=[c[0] for c in CASES]
)
def test_decide(case, the_order, rules, state, reason, sent):
    decision = decide(the_order, Rules(**rules), now=NOW, address_limits=X12_LIMITS)
    assert (decision.state, decision.reason) == (state, reason)
    if state == "ready":
        got = [(ln.sku, ln.quantity, ln.line_number, ln.line_id) for ln in decision.order.lines]
        assert got == sent
    else:
        assert decision.order == the_order  # kept as the store sent it, for a person to look at


def test_component_lines_remember_their_bundle():
    decision = decide(order(line("KIT", 2)), Rules(bundles={"KIT": {"MUG": 1, "SPOON": 3}}))
    parts = {ln.sku: (ln.bundle_sku, ln.per_bundle, ln.unit_price) for ln in decision.order.lines}
    assert parts == {"MUG": ("KIT", 1, 0), "SPOON": ("KIT", 3, 0)}


def test_prefix_and_ship_method_map_on_the_ready_order():
    rules = Rules(order_number_prefix="A-", ship_method_map={"GROUND": "UPS_GROUND"})
    decision = decide(order(), rules)
    assert (decision.order.number, decision.order.ship_method) == ("A-1001", "UPS_GROUND")


def test_start_date_comes_before_the_hold_period():
    decision = decide(
        order(), Rules(hold_minutes=90), not_before=minutes_after(1), now=minutes_after(2)
    )
    assert decision.state == "skipped"
    assert decision.reason == (
        "placed 2026-11-30 12:00 UTC, before the connection's start date 2026-11-30 12:01 UTC"
    )


def test_no_clock_no_hold_period():
    assert decide(order(), Rules(hold_minutes=90)).state == "ready"


def test_hold_period_ends_exactly_at_the_minute():
    rules = Rules(hold_minutes=15)
    assert decide(order(), rules, now=minutes_after(14.99)).state == "waiting"
    assert decide(order(), rules, now=minutes_after(15)).state == "ready"
    assert PLACED.tzinfo is not None

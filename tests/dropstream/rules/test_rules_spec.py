"""The new rules keys: validated, unknown keys still errors, every problem named."""

from __future__ import annotations

import pytest

from dropstream.errors import SpecError
from dropstream.spec import Rules, parse_spec
from tests.specs import spec_dict


def problems(rules: dict) -> str:
    raw = spec_dict("c")
    raw["rules"] = rules
    with pytest.raises(SpecError) as caught:
        parse_spec("c", raw)
    return str(caught.value)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"bundle": {}}, "unknown key 'rules.bundle'"),
        ({"hold_minutes": -1}, "'rules.hold_minutes': Input should be greater than or equal to 0"),
        ({"safety_stock_pct": 101}, "'rules.safety_stock_pct': Input should be less than or equal"),
        ({"zero_out_guard_pct": 0}, "'rules.zero_out_guard_pct': Input should be greater than 0"),
        ({"ship_countries": ["USA"]}, "'USA': not ISO 3166-1 alpha-2 country codes"),
        ({"exclude_tags": [" "]}, "an empty tag matches nothing"),
        ({"bundles": {"KIT": {}}}, "bundle 'KIT' has no components"),
        ({"bundles": {"KIT": {"MUG": 0}}}, "component 'MUG' needs a whole quantity from 1"),
        (
            {"bundles": {"KIT": {"BOX": 1}, "BOX": {"MUG": 1}}},
            "component 'BOX' is itself a bundle",
        ),
        (
            {"bundles": {"KIT": {"MUG": 1}}, "sku_map": {"KIT": "WH-KIT"}},
            "KIT in both bundles and sku_map",
        ),
        ({"bundles": {"KIT": {"MUG": 1}}, "skip_skus": ["KIT"]}, "KIT in both bundles and skip"),
        ({"include_tags": ["a"], "exclude_tags": ["a"]}, "tags a in both include_tags"),
        ({"ship_countries": ["us"], "hold_countries": ["US"]}, "countries US in both"),
    ],
)
def test_bad_rules_are_named(rules, message):
    assert message in problems(rules)


def test_defaults():
    rules = Rules()
    assert (rules.address_checks, rules.zero_out_guard_pct, rules.subtract_in_flight) == (
        True,
        50,
        False,
    )
    assert (rules.hold_minutes, rules.safety_stock_pct, rules.bundles) == (0, 0, {})


def test_countries_upper_cased_once():
    assert Rules(ship_countries=["us", "US", "ca"]).ship_countries == ["US", "CA"]

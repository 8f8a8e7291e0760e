"""The setup form's rules: every rule shown (grouped, with help), validated, kept on update."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters import PLATFORMS
from dropstream.setup.form import setup_params
from dropstream.setup.rule_fields import RULE_TITLES
from dropstream.setup.validate import FormError, plan_setup
from dropstream.spec import Rules
from tests.setup.test_setup_targets import blank_form

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SECRETS = {"warehouse_password", "store_access_token"}
#: Rules keys set elsewhere on the form (the flow's basics).
ELSEWHERE = {"default_ship_method", "ship_method_map", "order_number_prefix"}


def test_every_rule_is_on_the_form_grouped_with_help():
    params = setup_params([], PLATFORMS)
    for key in set(Rules.model_fields) - ELSEWHERE:
        assert key in params, f"rules.{key} is not on the setup form"
        assert params[key].schema["title"] == RULE_TITLES[key]
        assert params[key].schema["section"].startswith("Fulfillment flow: ")
        assert len(params[key].schema["description_md"]) > 40
    for key in ELSEWHERE:
        assert key in params
    sections = {params[k].schema["section"] for k in RULE_TITLES}
    assert len(sections) == 3  # which orders go / SKUs and bundles / inventory


RULES_FORM = {
    "include_tags": ["wholesale"],
    "exclude_tags": ["fraud-check"],
    "ship_countries": ["us", "CA"],
    "hold_minutes": 30,
    "sku_map": {"MUG": "100234"},
    "skip_skus": ["INSERT"],
    "bundles": {"GIFT-BOX": {"MUG": 1, "TEA": 2}},
    "address_checks": False,
    "safety_stock": 2,
    "safety_stock_pct": 10,
    "subtract_in_flight": True,
    "zero_out_guard_pct": 60,
}


def test_rules_from_the_form_reach_the_registry_entry():
    plan = plan_setup(blank_form(**RULES_FORM), {}, SECRETS, NOW)
    rules = plan.spec["rules"]
    assert {k: rules[k] for k in RULES_FORM} == {**RULES_FORM, "ship_countries": ["US", "CA"]}


def test_rules_update_keeps_what_it_does_not_change():
    registered = plan_setup(blank_form(**RULES_FORM), {}, SECRETS, NOW).spec
    # The update form as a person submits it: every rule field left empty but one.
    update = blank_form(action="update", hold_minutes=45)
    plan = plan_setup(update, {"unit": registered}, set(), NOW)
    rules = plan.spec["rules"]
    assert rules["hold_minutes"] == 45
    assert {k: rules[k] for k in RULES_FORM if k != "hold_minutes"} == {
        k: registered["rules"][k] for k in RULES_FORM if k != "hold_minutes"
    }
    # A boolean set to false on update is a change, not "left empty".
    plan = plan_setup(blank_form(action="update", subtract_in_flight=False),
                      {"unit": registered}, set(), NOW)  # fmt: skip
    assert plan.spec["rules"]["subtract_in_flight"] is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "ship_countries",
            ["USA"],
            "'Ship only to these countries': 'rules.ship_countries': 'USA': not ISO 3166-1 "
            "alpha-2 country codes (e.g. 'US', 'DE')",
        ),
        (
            "bundles",
            {"BOX": {"MUG": 0}},
            "'Bundles': 'rules.bundles': bundle 'BOX': component 'MUG' needs a whole quantity "
            "from 1, got 0",
        ),
        (
            "hold_minutes",
            -5,
            "'Wait before sending (minutes)': 'rules.hold_minutes': Input should be greater than "
            "or equal to 0",
        ),
        (
            "zero_out_guard_pct",
            0,
            "'Suspect snapshot threshold (percent)': 'rules.zero_out_guard_pct': Input should be "
            "greater than 0",
        ),
    ],
)
def test_bad_rules_are_named_by_their_field(field, value, message):
    with pytest.raises(FormError) as caught:
        plan_setup(blank_form(**{field: value}), {}, SECRETS, NOW)
    assert field in caught.value.fields
    assert message in caught.value.problems, caught.value.problems

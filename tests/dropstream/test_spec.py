from __future__ import annotations

import pytest

from dropstream.errors import SpecError
from dropstream.registry import parse_registry
from dropstream.spec import DEFAULT_SCHEDULES, dag_id, parse_dag_id, parse_spec
from tests.specs import spec_dict


def test_valid_entry_defaults():
    spec = parse_spec("acme", spec_dict())
    assert spec.warehouse.format.name == "header_detail_csv"
    assert spec.schedule("orders") == DEFAULT_SCHEDULES["orders"] == "*/15 * * * *"
    assert spec.schedule("tracking") == "0 */4 * * *"
    assert spec.start_date.tzinfo is not None


def test_unknown_key_is_named():
    entry = spec_dict()
    entry["warehouse"]["passwd"] = "x"
    with pytest.raises(SpecError) as err:
        parse_spec("acme", entry)
    assert "unknown key 'warehouse.passwd'" in str(err.value)
    assert "'acme'" in str(err.value)


def test_missing_key_is_named_and_all_problems_listed():
    entry = spec_dict()
    del entry["merchant"]
    entry["warehouse"]["protocol"] = "gopher"
    with pytest.raises(SpecError) as err:
        parse_spec("acme", entry)
    message = str(err.value)
    assert "missing key 'merchant'" in message
    assert "warehouse.protocol" in message


def test_schedule_override_and_bad_cron():
    spec = parse_spec("acme", spec_dict(schedules={"orders": "*/5 * * * *"}))
    assert spec.schedule("orders") == "*/5 * * * *"
    assert spec.schedule("inventory") == "0 * * * *"
    with pytest.raises(SpecError, match="schedules.inventory"):
        parse_spec("acme", spec_dict(schedules={"inventory": "99 * * * *"}))


def test_name_must_match_key_and_be_a_slug():
    with pytest.raises(SpecError, match="registry key"):
        parse_spec("other", spec_dict("acme"))
    with pytest.raises(SpecError, match="slug"):
        parse_spec("Bad Name", spec_dict("Bad Name"))


def test_unknown_platform():
    entry = spec_dict()
    entry["store"]["platform"] = "myspace"
    with pytest.raises(SpecError, match="unsupported platform 'myspace'"):
        parse_spec("acme", entry)


def test_registry_keeps_good_entries_when_one_is_bad():
    bad = spec_dict("broken")
    del bad["store"]
    registry = parse_registry({"acme": spec_dict("acme"), "broken": bad, "zeta": spec_dict("zeta")})
    assert sorted(registry.specs) == ["acme", "zeta"]
    assert "missing key 'store'" in str(registry.errors["broken"])


def test_registry_not_json():
    registry = parse_registry("{nope")
    assert not registry.specs and "not valid JSON" in str(registry.errors["*"])


def test_dag_id_round_trip():
    assert dag_id("a__b-c", "orders") == "dropstream__a__b-c__orders"
    assert parse_dag_id("dropstream__a__b-c__orders") == ("a__b-c", "orders")
    assert parse_dag_id("dropstream_setup") is None
    assert parse_dag_id("dropstream__x__other") is None

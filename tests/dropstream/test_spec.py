from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from croniter import croniter

from dropstream.errors import RegistryReadError, SpecError
from dropstream.registry import parse_registry
from dropstream.spec import PERIODS, dag_id, parse_dag_id, parse_spec
from tests.specs import spec_dict


def test_valid_entry_defaults():
    spec = parse_spec("acme", spec_dict())
    assert spec.warehouse.format.name == "header_detail_csv"
    # The default cadence, at this connection's own offset (crc32 of "acme/<flow>").
    assert spec.schedule("orders") == "2,17,32,47 * * * * 51"
    assert spec.schedule("inventory") == "17 * * * * 21"
    assert spec.schedule("tracking") == "52 2,6,10,14,18,22 * * * 29"
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
    assert spec.schedule("orders") == "*/5 * * * *"  # an explicit schedule wins, as written
    assert spec.schedule("inventory") == "17 * * * * 21"
    seconds = parse_spec("acme", spec_dict(schedules={"orders": "* * * * * 30"}))
    assert seconds.schedule("orders") == "* * * * * 30"  # croniter's sixth field: the second
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


@pytest.mark.parametrize(
    ("document", "says"), [("{nope", "not valid JSON"), ("[1, 2]", "must be a JSON object")]
)
def test_a_registry_that_is_not_an_object_is_never_read_as_empty(document, says):
    with pytest.raises(RegistryReadError, match=says):
        parse_registry(document)


def test_no_registry_at_all_is_an_empty_registry():
    assert parse_registry(None).specs == {} == parse_registry("").specs


def rejected(entry: dict) -> str:
    with pytest.raises(SpecError) as err:
        parse_spec("acme", entry)
    assert "connection 'acme'" in str(err.value)
    return str(err.value)


def with_format(fmt) -> dict:
    entry = spec_dict()
    entry["warehouse"]["format"] = fmt
    return entry


def test_format_name_typo_is_rejected_naming_the_key():
    message = rejected(with_format("header_detail_cvs"))
    assert "'warehouse.format'" in message and "'header_detail_cvs' is not known" in message
    assert "header_detail_csv" in message  # the known names are listed


@pytest.mark.parametrize(
    ("fmt", "says"),
    [
        ({"name": "header_detail_csv", "options": {"verison": "v2"}}, "verison: unknown option"),
        (
            {"name": "header_detail_csv", "options": {"version": "v3"}},
            "needs the option 'facility'",
        ),
        ({"name": "flat_csv", "options": {"delimeter": ";"}}, "delimeter: unknown option"),
        ({"name": "x12", "options": {}}, "sender_id: is required"),
        ({"name": "x12", "options": {"sender_id": "ACME"}}, "receiver_id: is required"),
    ],
)
def test_format_options_are_checked_by_the_formats_own_model(fmt, says):
    message = rejected(with_format(fmt))
    assert "'warehouse.format'" in message and says in message


def test_good_format_options_pass():
    x12 = {"name": "x12", "options": {"sender_id": "ACME", "receiver_id": "3PL"}}
    assert parse_spec("acme", with_format(x12)).warehouse.format.options["sender_id"] == "ACME"
    flat = {"name": "flat_csv", "options": {"delimiter": ";"}}
    assert parse_spec("acme", with_format(flat)).warehouse.format.name == "flat_csv"


@pytest.mark.parametrize(
    ("platform", "options", "says"),
    [
        ("shopify", {"page_size": 10}, "'page_size' is not an option of shopify"),
        ("woocommerce", {"tracking": "pigeon"}, "'tracking'"),
        ("ebay", {"page_size": 500}, "'page_size'"),
        ("amazon", {"pagesize": 10}, "'pagesize' is not an option of amazon"),
    ],
)
def test_store_options_are_checked_per_platform(platform, options, says):
    entry = spec_dict()
    entry["store"].update(platform=platform, options=options)
    message = rejected(entry)
    assert "'store.options'" in message and says in message


def test_good_store_options_pass():
    entry = spec_dict()
    entry["store"].update(platform="woocommerce", options={"tracking": "note"})
    assert parse_spec("acme", entry).store.options == {"tracking": "note"}


@pytest.mark.parametrize(
    ("folder", "says"), [("out", "must be an absolute folder"), ("/out/../etc", "'..'")]
)
def test_paths_must_be_absolute_without_dot_dot(folder, says):
    entry = spec_dict()
    entry["warehouse"]["paths"]["shipments"] = folder
    message = rejected(entry)
    assert "'warehouse.paths.shipments'" in message and says in message


def test_paths_are_normalised():
    entry = spec_dict()
    entry["warehouse"]["paths"]["inventory"] = "/out//stock/"
    assert parse_spec("acme", entry).warehouse.paths.inventory == "/out/stock"


def test_order_number_prefix():
    assert (
        parse_spec("acme", spec_dict(rules={"order_number_prefix": "A-"})).rules.order_number_prefix
        == "A-"
    )
    message = rejected(spec_dict(rules={"order_number_prefix": "A/"}))
    assert "'rules.order_number_prefix'" in message


def test_dag_id_round_trip():
    assert dag_id("a__b-c", "orders") == "dropstream__a__b-c__orders"
    assert parse_dag_id("dropstream__a__b-c__orders") == ("a__b-c", "orders")
    assert parse_dag_id("dropstream_setup") is None
    assert parse_dag_id("dropstream__x__other") is None


def fire_times(cron: str, hours: int) -> list[datetime]:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    it = croniter(cron, start - timedelta(seconds=1))
    times = [it.get_next(datetime)]
    while times[-1] < start + timedelta(hours=hours):
        times.append(it.get_next(datetime))
    return times[:-1]


@pytest.mark.parametrize("flow", ["orders", "inventory", "tracking"])
def test_default_schedules_keep_the_cadence_at_a_stable_offset(flow):
    period = timedelta(seconds=PERIODS[flow])
    for name in ("acme", "shop-01", "shop-02", "z"):
        times = fire_times(parse_spec(name, spec_dict(name)).schedule(flow), hours=24)
        assert len(times) == timedelta(hours=24) // period
        assert {b - a for a, b in zip(times, times[1:], strict=False)} == {period}
        assert times[0] - datetime(2026, 11, 2, tzinfo=UTC) < period


def test_a_thousand_connections_do_not_fire_together():
    names = [f"merchant-{i:04d}" for i in range(1000)]
    firsts = Counter(
        fire_times(parse_spec(n, spec_dict(n)).schedule("orders"), hours=1)[0] for n in names
    )
    # 1,000 connections over a quarter hour: about one a second, never a crowd at :00.
    assert len(firsts) > 600 and max(firsts.values()) <= 6, firsts.most_common(3)


def test_offsets_do_not_depend_on_the_process_hash_seed():
    code = (
        "from dropstream.spec import parse_spec; from tests.specs import spec_dict; "
        "print(parse_spec('acme', spec_dict('acme')).schedule('orders'))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root / "include"), str(root)]),
    }
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", code], env={**env, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert done.stdout.strip() == parse_spec("acme", spec_dict()).schedule("orders")


def test_alerts_default_to_nobody_and_four_hours():
    spec = parse_spec("acme", spec_dict())
    assert spec.alerts.emails == [] and spec.alerts.held_hours == 4


def test_alerts_are_validated_naming_the_key():
    spec = parse_spec(
        "acme",
        spec_dict(alerts={"emails": ["ops@acme.example", "ops@acme.example"], "held_hours": 1.5}),
    )
    assert spec.alerts.emails == ["ops@acme.example"] and spec.alerts.held_hours == 1.5
    with pytest.raises(SpecError, match=r"unknown key 'alerts.slack'"):
        parse_spec("acme", spec_dict(alerts={"slack": "#ops"}))
    with pytest.raises(SpecError, match=r"'alerts.emails': 'ops at acme': not e-mail"):
        parse_spec("acme", spec_dict(alerts={"emails": ["ops at acme"]}))
    with pytest.raises(SpecError, match=r"'alerts.held_hours'"):
        parse_spec("acme", spec_dict(alerts={"held_hours": 0}))
    tagged = parse_spec("acme", spec_dict(alerts={"apprise_tags": ["ops", "ops", "night.shift"]}))
    assert tagged.alerts.apprise_tags == ["ops", "night.shift"] and tagged.alerts.wanted
    with pytest.raises(SpecError, match=r"'alerts.apprise_tags': 'slack://T0/B0/x'"):
        parse_spec("acme", spec_dict(alerts={"apprise_tags": ["slack://T0/B0/x"]}))


def test_interval_is_the_longest_gap_of_the_schedule():
    assert parse_spec("acme", spec_dict()).interval("orders") == timedelta(minutes=15)
    odd = parse_spec("acme", spec_dict(schedules={"orders": "0,10 * * * *"}))
    assert odd.interval("orders") == timedelta(minutes=50)

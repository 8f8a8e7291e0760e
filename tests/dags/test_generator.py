"""The generator and registry check as Airflow's own DagBag loads them."""

from __future__ import annotations

import pytest

from tests.specs import registry_json, spec_dict

DAGS = __import__("pathlib").Path(__file__).resolve().parents[2] / "dags"


def load_dagbag(monkeypatch, registry: str | None):
    from airflow.dag_processing.dagbag import DagBag

    if registry is None:
        monkeypatch.delenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", registry)
    return DagBag(dag_folder=str(DAGS))


def dropstream_dags(bag):
    return sorted(d for d in bag.dag_ids if d.startswith("dropstream__"))


@pytest.mark.parametrize("count", [0, 1, 50])
def test_loads_without_import_errors(monkeypatch, count):
    entries = [spec_dict(f"shop-{i:02d}") for i in range(count)]
    bag = load_dagbag(monkeypatch, registry_json(*entries) if entries else None)
    assert bag.import_errors == {}
    assert len(dropstream_dags(bag)) == 3 * count


def test_one_connection_three_dags_as_designed(monkeypatch):
    entry = spec_dict("acme", schedules={"tracking": "30 */6 * * *"})
    bag = load_dagbag(monkeypatch, registry_json(entry))
    assert dropstream_dags(bag) == [
        "dropstream__acme__inventory",
        "dropstream__acme__orders",
        "dropstream__acme__tracking",
    ]
    orders = bag.dags["dropstream__acme__orders"]
    assert set(orders.tags) == {
        "dropstream",
        "merchant:acme-goods",
        "platform:shopify",
        "connection:acme",
    }
    assert orders.max_active_runs == 1
    assert orders.is_paused_upon_creation is True
    assert [t.task_id for t in orders.tasks] == ["extract", "transform", "load"]
    assert orders.get_task("load").upstream_task_ids == {"transform"}
    assert orders.timetable.expression == "2,17,32,47 * * * * 51"  # the cadence at acme's offset
    assert type(orders.timetable).__name__ == "CronDataIntervalTimetable"
    assert bag.dags["dropstream__acme__inventory"].timetable.expression == "17 * * * * 21"
    assert bag.dags["dropstream__acme__tracking"].timetable.expression == "30 */6 * * *"
    task = orders.get_task("extract")
    assert task.retries >= 2 and task.retry_exponential_backoff
    assert "Acme 3PL" in orders.doc_md and "/in" in orders.doc_md and "shopify" in orders.doc_md


def test_broken_entry_reported_others_load(monkeypatch):
    broken = spec_dict("broken")
    broken["warehouse"]["protocol"] = "gopher"
    del broken["merchant"]
    bag = load_dagbag(monkeypatch, registry_json(spec_dict("acme"), broken, spec_dict("zeta")))
    assert dropstream_dags(bag) == [
        f"dropstream__{n}__{f}"
        for n in ("acme", "zeta")
        for f in ("inventory", "orders", "tracking")
    ]
    # The operator sees one import error, on the check file, naming the connection and problems.
    assert list(bag.import_errors) == [str(DAGS / "dropstream_registry_check.py")]
    message = next(iter(bag.import_errors.values()))
    assert "'broken'" in message and "missing key 'merchant'" in message
    assert "warehouse.protocol" in message


def test_parsing_context_builds_only_the_task_dag(monkeypatch):
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "dropstream__shop-01__tracking")
    bag = load_dagbag(monkeypatch, registry_json(*(spec_dict(f"shop-{i:02d}") for i in range(3))))
    assert dropstream_dags(bag) == ["dropstream__shop-01__tracking"]


def test_backfill_windows_follow_the_offset_schedule(monkeypatch):
    """The windows a backfill creates (Airflow's own backfill code path) are the connection's
    offset windows: contiguous, one cadence long, starting at its offset."""
    from datetime import UTC, datetime, timedelta

    from airflow.serialization.serialized_objects import DagSerialization

    bag = load_dagbag(monkeypatch, registry_json(spec_dict("acme")))
    dag = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags["dropstream__acme__orders"]))
    start = datetime(2026, 11, 20, tzinfo=UTC)
    infos = list(dag.iter_dagrun_infos_between(start, start + timedelta(hours=2)))
    windows = [(i.data_interval.start, i.data_interval.end) for i in infos]
    assert len(windows) == 8
    assert windows[0][0] == start + timedelta(minutes=2, seconds=51)
    assert all(end - begin == timedelta(minutes=15) for begin, end in windows)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))

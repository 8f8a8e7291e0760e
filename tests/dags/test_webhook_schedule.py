"""A connection with webhooks enabled: its orders DAG runs on its cron windows *or* its asset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.dags.test_generator import load_dagbag
from tests.specs import registry_json, spec_dict


def test_orders_run_on_the_offset_cron_or_the_connection_s_asset(monkeypatch):
    from airflow.serialization.serialized_objects import DagSerialization

    hooked = spec_dict("acme", webhooks={"enabled": True})
    bag = load_dagbag(monkeypatch, registry_json(hooked, spec_dict("plain")))
    assert bag.import_errors == {}
    orders = bag.dags["dropstream__acme__orders"]
    assert type(orders.timetable).__name__ == "AssetOrTimeSchedule"
    assert type(orders.timetable.timetable).__name__ == "CronDataIntervalTimetable"
    assert orders.timetable.timetable.expression == "2,17,32,47 * * * * 51"  # acme's offset
    assert [a.uri for a in orders.timetable.asset_condition.objects] == ["dropstream://acme/orders"]
    assert "webhooks" in orders.doc_md and "dropstream://acme/orders" in orders.doc_md
    # Only orders listens to webhooks; a connection without them keeps its plain cron.
    for dag_id in ("dropstream__acme__inventory", "dropstream__plain__orders"):
        assert type(bag.dags[dag_id].timetable).__name__ == "CronDataIntervalTimetable"

    # Backfill (Airflow's own code path over the serialized DAG) still gets the cron windows.
    dag = DagSerialization.from_dict(DagSerialization.to_dict(orders))
    start = datetime(2026, 11, 20, tzinfo=UTC)
    infos = list(dag.iter_dagrun_infos_between(start, start + timedelta(hours=1)))
    windows = [(i.data_interval.start, i.data_interval.end) for i in infos]
    assert len(windows) == 4
    assert windows[0][0] == start + timedelta(minutes=2, seconds=51)
    assert all(end - begin == timedelta(minutes=15) for begin, end in windows)


def test_an_asset_triggered_run_fetches_from_the_watermark_to_now():
    """Airflow gives an asset-triggered run no data interval (scheduler_job_runner creates it
    with ``data_interval=None``): it catches up from the watermark to now; a scheduled run keeps
    its own window whatever the watermark says."""
    from dropstream.flows.context import run_window
    from dropstream.spec import ConnectionSpec

    spec = ConnectionSpec.model_validate(spec_dict("acme", webhooks={"enabled": True}))
    now = datetime(2026, 11, 30, 6, 0, 7, tzinfo=UTC)
    watermark = datetime(2026, 11, 30, 5, 47, 51, tzinfo=UTC)
    asset_run = {"data_interval_start": None, "data_interval_end": None}
    assert run_window(spec, asset_run, watermark, now) == (watermark, now)
    start, end = datetime(2026, 11, 30, 5, 32, 51, tzinfo=UTC), watermark
    scheduled = {"data_interval_start": start, "data_interval_end": end}
    later = now + timedelta(minutes=1)  # an asset run already moved the watermark past `end`
    assert run_window(spec, scheduled, later, now) == (start, end)

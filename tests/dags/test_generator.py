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


# --- the registry fails closed ---------------------------------------------------------------
GENERATOR = str(DAGS / "dropstream_connections.py")


def test_broken_variable_value_is_an_import_error_not_an_empty_registry(monkeypatch):
    bag = load_dagbag(monkeypatch, '{"acme": {"name": "acme", ')  # cut short while editing
    assert dropstream_dags(bag) == []
    message = bag.import_errors[GENERATOR]
    assert "Variable 'dropstream_connections' is not valid JSON" in message
    assert "nothing is generated or written" in message


PARSE = """
import json, os
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": bag.import_errors}))
"""


def parse_elsewhere(tmp_path, **env: str) -> dict:
    """Parse the DAGs folder in a fresh process (secrets backends are loaded once per process)."""
    import json
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if k != "AIRFLOW_VAR_DROPSTREAM_CONNECTIONS"}
    environment.update(env)
    root = DAGS.parent
    environment["PYTHONPATH"] = os.pathsep.join([str(root / "plugins"), str(root / "include")])
    done = subprocess.run(
        [sys.executable, "-c", PARSE], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_failing_secrets_backend_is_an_import_error(tmp_path):
    variables = tmp_path / "variables.json"
    variables.write_text('{"dropstream_connections": ')  # the backend cannot parse its file
    parsed = parse_elsewhere(
        tmp_path,
        AIRFLOW__SECRETS__BACKEND="airflow.secrets.local_filesystem.LocalFilesystemBackend",
        AIRFLOW__SECRETS__BACKEND_KWARGS=f'{{"variables_file_path": "{variables}"}}',
    )
    assert not [d for d in parsed["dags"] if d.startswith("dropstream__")]
    message = parsed["errors"][GENERATOR]
    assert "could not read Variable 'dropstream_connections'" in message
    assert "variables.json" in message  # the backend's own complaint, naming its file


def test_an_unreachable_metadata_db_is_an_import_error(tmp_path):
    gone = tmp_path / "unmounted" / "airflow.db"  # its volume is gone: the DB cannot be opened
    parsed = parse_elsewhere(
        tmp_path,
        _AIRFLOW_PROCESS_CONTEXT="server",  # Variables come from the metadata DB itself
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{gone}",
    )
    assert not [d for d in parsed["dags"] if d.startswith("dropstream__")]
    message = parsed["errors"][GENERATOR]
    assert "could not read Variable 'dropstream_connections'" in message
    assert "OperationalError" in message and "unable to open database file" in message


def test_two_connections_one_login_same_folder_same_prefix(monkeypatch):
    sftp = '{"conn_type": "sftp", "host": "WH.example.com", "port": 22, "login": "acme"}'
    monkeypatch.setenv("AIRFLOW_CONN_DROPSTREAM_SHOP_A_WAREHOUSE", sftp)
    monkeypatch.setenv("AIRFLOW_CONN_DROPSTREAM_SHOP_B_WAREHOUSE", sftp.replace("WH.", "wh."))
    bag = load_dagbag(monkeypatch, registry_json(spec_dict("shop_a"), spec_dict("shop_b")))
    message = bag.import_errors[str(DAGS / "dropstream_registry_check.py")]
    assert "connections 'shop_a' and 'shop_b' share the orders folder /in" in message
    assert "sftp://wh.example.com/22/acme" in message
    # Distinct prefixes: no error.
    bag = load_dagbag(
        monkeypatch,
        registry_json(
            spec_dict("shop_a", rules={"order_number_prefix": "A-"}),
            spec_dict("shop_b", rules={"order_number_prefix": "B-"}),
        ),
    )
    assert bag.import_errors == {}

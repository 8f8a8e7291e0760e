"""The connection wizard run by a REAL scheduler, dag-processor and api-server (no dag.test()).

Proves what the dag.test() tests cannot: with a real scheduler the form run ends before its
continuation starts (max_active_runs=1), the continuation deletes the form run, and the task log
FILES real task runs write under AIRFLOW_HOME/logs (what the UI shows) hold no secret.
"""

from __future__ import annotations

import json
import os
import secrets as random
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.setup.test_setup_dag import assert_no_secret_anywhere

SETUP = "dropstream_setup"
ENDED = {"success", "failed"}
ACTIVE = {"queued", "running"}
RUN_TIMEOUT = 180


def setup_runs(api) -> dict[str, dict[str, Any]]:
    body = api.get(f"/dags/{SETUP}/dagRuns", params={"limit": 100, "order_by": "-run_after"})
    return {run["dag_run_id"]: run for run in body["dag_runs"]}


def wait_for_setup_to_end(api, scheduler, before: set[str]) -> dict[str, dict[str, Any]]:
    """Poll until a new run has ended and no new run is queued or running; the new runs."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        new = {k: v for k, v in setup_runs(api).items() if k not in before}
        states = [run["state"] for run in new.values()]
        if any(s in ENDED for s in states) and not any(s in ACTIVE for s in states):
            return new
        scheduler.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(
                f"setup runs did not end within {RUN_TIMEOUT}s: "
                f"{ {k: v['state'] for k, v in new.items()} }\n"
                f"scheduler/dag-processor log tail:\n{scheduler.logs()[-4000:]}"
            )
        time.sleep(1)


@pytest.mark.slow
@pytest.mark.sshd
def test_add_with_real_scheduler_leaves_only_the_clean_continuation(
    wizard, airflow_scheduler, capfd
):
    api = wizard.api
    name = f"wiz-real-{random.token_hex(3)}"
    conf = wizard.form(name)
    secrets = [conf["warehouse_private_key"], conf["store_access_token"]]
    secrets += [line for line in conf["warehouse_private_key"].splitlines()[1:-1] if line]

    response = api.call("PATCH", f"/dags/{SETUP}", json={"is_paused": False})
    assert response.status_code == 200, response.text
    before = set(setup_runs(api))
    response = api.call(
        "POST",
        f"/dags/{SETUP}/dagRuns",
        json={"logical_date": datetime.now(UTC).isoformat(), "conf": conf},
    )
    assert response.status_code == 200, response.text
    form_run_id = response.json()["dag_run_id"]

    new = wait_for_setup_to_end(api, airflow_scheduler, before)

    # The form run is gone; only its continuation remains, and it succeeded.
    assert form_run_id not in new, new[form_run_id]
    assert api.call("GET", f"/dags/{SETUP}/dagRuns/{form_run_id}").status_code == 404
    assert len(new) == 1, {k: v["state"] for k, v in new.items()}
    (run,) = new.values()
    assert run["dag_run_id"].startswith("setup__"), run
    assert run["state"] == "success", (run, wizard.task_logs(run["dag_run_id"])[-4000:])
    assert run["conf"]["dropstream_handover"]["form_run_id"] == form_run_id
    for flow in ("orders", "inventory", "tracking"):
        assert f"dropstream__{name}__{flow}" in run["note"], run["note"]
    assert "paused" in run["note"]

    # Both runs ran for real (their task log files are on disk) and the form run handed over.
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs" / f"dag_id={SETUP}"
    form_logs, next_logs = logs / f"run_id={form_run_id}", logs / f"run_id={run['dag_run_id']}"
    form_log = _task_log_text(form_logs / "task_id=receive_form")
    assert "secrets moved into the encrypted Connection" in form_log, form_log[-3000:]
    report_log = _task_log_text(next_logs / "task_id=report")
    assert f"dropstream__{name}__orders" in report_log, report_log[-3000:]
    assert f"deleted form run {form_run_id}" in _task_log_text(next_logs / "task_id=receive_form")
    # max_active_runs=1 under a real scheduler: every task of the form run (all seven ran,
    # six of them skipping) had finished before the first task of the continuation started.
    form_times, next_times = _log_times(form_logs), _log_times(next_logs)
    assert max(form_times) < min(next_times), (max(form_times), min(next_times))

    # What was registered: two Connections of the right types, the registry entry.
    store = wizard.connection(f"dropstream_{name}_store")
    warehouse = wizard.connection(f"dropstream_{name}_warehouse")
    assert store is not None and warehouse is not None
    assert store["conn_type"] == "http" and store["host"] == wizard.shop.url
    assert warehouse["conn_type"] == "sftp" and warehouse["host"] == wizard.sftp.host
    assert json.loads(warehouse["extra"])["host_key"] == wizard.sftp.host_key
    entry = wizard.registry()[name]
    assert entry["merchant"] == "acme-goods" and entry["store"]["platform"] == "shopify"

    # No secret anywhere: conf, task instances + rendered fields, XCom, Variables, Connections,
    # event log, every file under AIRFLOW_HOME/logs, the task logs as the API serves them, and
    # the output of every process involved (this one, scheduler, dag-processor, api-server).
    captured = capfd.readouterr()
    output = [captured.out, captured.err, airflow_scheduler.logs(), api.log()]
    output.append(wizard.task_logs(run["dag_run_id"]))
    assert_no_secret_anywhere(wizard, secrets, SimpleNamespace(out="\n".join(output), err=""))


def _log_times(run_folder: Path) -> list[datetime]:
    """The timestamps of every line of every task log of one run."""
    task_folders = sorted(run_folder.glob("task_id=*"))
    assert len(task_folders) == 7, task_folders
    times = []
    for folder in task_folders:
        for line in _task_log_text(folder).splitlines():
            if line.startswith("{"):
                times.append(datetime.fromisoformat(json.loads(line)["timestamp"]))
    return times


def _task_log_text(folder: Path) -> str:
    files = sorted(folder.glob("attempt=*")) if folder.exists() else []
    assert files, f"no task log file in {folder}"
    return "\n".join(path.read_text(errors="replace") for path in files)

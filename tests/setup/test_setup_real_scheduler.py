"""The connection wizard run by a REAL scheduler, dag-processor and api-server (no dag.test()).

Proves what the dag.test() tests cannot: under a real scheduler the run the form created (the one
the UI opens after Trigger) is the one that ends with the outcome, its conf no longer holds the
secrets once its first task has run, and the task log FILES real task runs write under
AIRFLOW_HOME/logs (what the UI shows) hold no secret.
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
def test_add_with_real_scheduler_ends_in_the_run_the_form_created(wizard, airflow_scheduler, capfd):
    api = wizard.api
    name = f"wiz-real-{random.token_hex(3)}"
    conf = wizard.form(name)
    secrets = [conf["warehouse_private_key"], conf["store_access_token"]]
    secrets += [line for line in conf["warehouse_private_key"].splitlines()[1:-1] if line]

    before = set(setup_runs(api))
    response = api.call(
        "POST",
        f"/dags/{SETUP}/dagRuns",
        json={"logical_date": datetime.now(UTC).isoformat(), "conf": conf},
    )
    assert response.status_code == 200, response.text
    form_run_id = response.json()["dag_run_id"]

    new = wait_for_setup_to_end(api, airflow_scheduler, before)

    # One run: the one the UI opened after Trigger. It succeeded and its note says what happened.
    assert set(new) == {form_run_id}, {k: v["state"] for k, v in new.items()}
    run = api.get(f"/dags/{SETUP}/dagRuns/{form_run_id}")
    assert run["state"] == "success", (run, wizard.task_logs(form_run_id)[-4000:])
    for flow in ("orders", "inventory", "tracking"):
        assert f"dropstream__{name}__{flow}" in run["note"], run["note"]
    assert "paused" in run["note"] and "added" in run["note"]
    # Its conf keeps what the person typed, minus the secrets.
    assert run["conf"]["connection_name"] == name
    assert run["conf"]["warehouse_private_key"] is None
    assert run["conf"]["store_access_token"] is None

    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs" / f"dag_id={SETUP}" / f"run_id={form_run_id}"
    received = _task_log_text(logs / "task_id=receive_form")
    assert "conf no longer holds them" in received, received[-3000:]
    report_log = _task_log_text(logs / "task_id=report")
    assert f"dropstream__{name}__orders" in report_log, report_log[-3000:]
    assert len(sorted(logs.glob("task_id=*"))) == 7

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
    output.append(wizard.task_logs(form_run_id))
    captured = SimpleNamespace(out="\n".join(output), err="")
    assert_no_secret_anywhere(wizard, secrets, captured, conf_of={form_run_id})


def _task_log_text(folder: Path) -> str:
    files = sorted(folder.glob("attempt=*")) if folder.exists() else []
    assert files, f"no task log file in {folder}"
    return "\n".join(path.read_text(errors="replace") for path in files)

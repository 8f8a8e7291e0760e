"""The orders DeadlineAlert under a REAL scheduler: no successful run for twice the interval.

A real scheduler (LocalExecutor), dag-processor and api-server; the connection's registry entry
in the metadata DB with ``alerts.emails``; the Shopify emulator refusing the store's token, so
the orders run fails at once; the real SMTP server. A run triggered with a logical date an hour
ago is past its deadline (logical date + 2 × 15 min) as soon as it exists: the scheduler marks
the deadline missed and its callback runs on the executor. Each trouble is mailed once: the
failed task, and the overdue orders flow.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.ledgers import sqlite_ledger_url
from tests.servers.airflow_scheduler import running_scheduler
from tests.servers.shopify import shopify_connection_json
from tests.specs import spec_dict

OPS = "ops@acme.example"
TIMEOUT = 240

pytestmark = [pytest.mark.slow]


def register(api, name: str, entry: dict) -> None:
    current = api.call("GET", "/variables/dropstream_connections")
    registry = json.loads(current.json()["value"]) if current.status_code == 200 else {}
    body = {"key": "dropstream_connections", "value": json.dumps({**registry, name: entry})}
    response = api.call("PATCH", "/variables/dropstream_connections", json=body)
    if response.status_code == 404:
        response = api.call("POST", "/variables", json=body)
    assert response.status_code in (200, 201), response.text


def test_an_overdue_orders_flow_is_mailed_once(
    airflow_api_server, shopify_emulator, smtp, tmp_path, tmp_path_factory, monkeypatch
):
    api = airflow_api_server
    name = f"dl_{uuid.uuid4().hex[:6]}"
    dag_id = f"dropstream__{name}__orders"
    register(api, name, spec_dict(name, alerts={"emails": [OPS]}))
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    store = json.loads(shopify_connection_json(shopify_emulator))
    store["password"] = "shpat_revoked"  # the store refuses it: the run fails, no retries
    monkeypatch.setenv(f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", json.dumps(store))

    with running_scheduler(tmp_path_factory.mktemp("deadline"), job_schedule=False) as sched:
        deadline = time.monotonic() + 180
        while api.call("GET", f"/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, sched.logs()[-3000:]
            time.sleep(2)
        assert api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
        hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
        run = {"logical_date": hour_ago.isoformat()}
        response = api.call("POST", f"/dags/{dag_id}/dagRuns", json=run)
        assert response.status_code == 200, response.text
        run_id = response.json()["dag_run_id"]
        deadline = time.monotonic() + TIMEOUT
        while len(smtp.received()) < 2:
            sched.check_alive()
            assert time.monotonic() < deadline, (
                [m.subject for m in smtp.received()],
                sched.logs()[-5000:],
            )
            time.sleep(2)
        while (state := api.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]) == "running":
            assert time.monotonic() < deadline, sched.logs()[-5000:]
            time.sleep(2)
        time.sleep(15)  # several more scheduler loops: nothing else may be sent

    mails = smtp.received()
    assert state == "failed"
    subjects = sorted(m.subject for m in mails)
    assert len(mails) == 2, subjects
    overdue = next(m for m in mails if "no successful orders run" in m.subject)
    failed = next(m for m in mails if "a task failed after its retries" in m.subject)
    assert name in overdue.subject and name in failed.subject
    assert f"Connection '{name}': no successful orders run for 30 minutes" in overdue.body
    assert run_id in overdue.body and dag_id in overdue.body
    assert f"Connection '{name}', orders flow: the step 'extract' failed" in failed.body
    assert overdue.recipients == failed.recipients == (OPS,)

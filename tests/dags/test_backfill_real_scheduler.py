"""Backfills beside the scheduled and manual runs, under a REAL scheduler (issue 9).

A real scheduler (LocalExecutor, cron runs on), dag-processor and api-server; the connection's
registry entry in the metadata DB; the real sshd; the Shopify emulator; the ledger on
PostgreSQL. The two backfill commands are taken from the README's "Backfill" section and run
as written there: the REST call (curl) while the scheduled and a manual run are going, then
the CLI beside another manual run. Every run must end successful and every order must be in
the warehouse exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ledgers import migrated
from tests.servers.airflow_scheduler import AirflowScheduler, running_scheduler
from tests.servers.shopify import shopify_connection_json
from tests.specs import spec_dict

README = Path(__file__).resolve().parents[2] / "README.md"
WINDOW = timedelta(minutes=15)
DONE = {"success", "failed"}
TIMEOUT = 900  # seconds for all runs of one phase to end

pytestmark = [pytest.mark.slow, pytest.mark.sshd, pytest.mark.postgres]


def readme_backfill_commands() -> dict[str, str]:
    """The CLI and curl commands of the README's Backfill section, continuation lines joined."""
    section = README.read_text().split("### Backfill", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    commands = [re.sub(r"\\\n\s*", "", block).strip() for block in blocks]
    found = {c.split()[0]: c for c in commands}
    assert set(found) == {"airflow", "curl"}, commands
    return found


def fill(command: str, connection: str, first: datetime, last: datetime) -> str:
    return (
        command.replace("<connection>", connection)
        .replace("<from>", first.isoformat())
        .replace("<to>", last.isoformat())
    )


def run_as_written(command: str, env: dict[str, str]) -> str:
    """Run a README command in bash; again (up to 5 times) while Airflow says its SQLite
    metadata DB is locked, as the README tells the operator to."""
    for _ in range(5):
        done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout
        assert "database is locked" in (done.stdout + done.stderr).lower(), (
            done.stdout + done.stderr
        )
        time.sleep(3)
    pytest.fail(f"still locked after 5 tries: {command}")


def order_numbers(folder: Path) -> list[str]:
    numbers = []
    for path in folder.iterdir():
        assert not path.name.startswith("."), f"left behind: {path.name}"
        rows = csv.reader(io.StringIO(path.read_text()))
        numbers += [row[1] for row in rows if row and row[0] == "PH"]
    return numbers


def wait_for_runs(api: Any, dag_id: str, at_least: int, scheduler: AirflowScheduler) -> list[dict]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        runs = api.get(f"/dags/{dag_id}/dagRuns", params={"limit": 200})["dag_runs"]
        if len(runs) >= at_least and all(r["state"] in DONE for r in runs):
            return runs
        scheduler.check_alive()
        if time.monotonic() > deadline:
            states = sorted((r["run_type"], r["state"]) for r in runs)
            pytest.fail(f"runs did not end within {TIMEOUT}s: {states}\n{scheduler.logs()[-3000:]}")
        time.sleep(3)


# Two phases of runs; each fails the test itself, with the run states, after TIMEOUT.
@pytest.mark.timeout(2 * TIMEOUT + 600)
def test_backfills_beside_scheduled_and_manual_runs(
    airflow_api_server, sftp_server, shopify_emulator, postgres_url, tmp_path_factory, monkeypatch
):
    api, shop = airflow_api_server, shopify_emulator
    name = f"bf_{uuid.uuid4().hex[:6]}"
    dag_id = f"dropstream__{name}__orders"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    latest = now.replace(minute=now.minute - now.minute % 15) - WINDOW  # the scheduled window
    start = latest - 26 * WINDOW
    rest_first, rest_last = latest - 13 * WINDOW, latest - WINDOW  # 13 windows
    cli_first, cli_last = latest - 25 * WINDOW, latest - 14 * WINDOW  # 12 windows

    entry = spec_dict(name, start_date=start.isoformat(), rules={"default_ship_method": "UPS"})
    current = api.call("GET", "/variables/dropstream_connections")
    registry = json.loads(current.json()["value"]) if current.status_code == 200 else {}
    body = {"key": "dropstream_connections", "value": json.dumps({**registry, name: entry})}
    response = api.call("PATCH", "/variables/dropstream_connections", json=body)
    if response.status_code == 404:
        response = api.call("POST", "/variables", json=body)
    assert response.status_code in (200, 201), response.text
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", migrated(postgres_url))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", shopify_connection_json(shop)
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_WAREHOUSE", sftp_server.connection_json()
    )
    seeded = []

    def seed(first: datetime, windows: int) -> None:
        for w in range(windows):
            at = first + w * WINDOW + timedelta(minutes=7)
            seeded.append(str(shop.order(shop.add_order(updated_at=at, created_at=at)).number))

    seed(start, 28)  # open orders in every window so far: the first run imports them (backlog)
    commands = readme_backfill_commands()
    with running_scheduler(tmp_path_factory.mktemp("scheduling"), job_schedule=True) as sched:
        deadline = time.monotonic() + 180
        while api.call("GET", f"/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, sched.logs()[-3000:]
            time.sleep(2)
        # The README's REST call; then a manual run, then unpausing starts the scheduled run:
        # the backfill's runs, the manual and the scheduled run all go at once.
        curl = fill(commands["curl"], name, rest_first, rest_last)
        env = {**os.environ, "AIRFLOW_URL": api.url, "TOKEN": api.token()}
        backfill = json.loads(run_as_written(curl, env))
        assert backfill["max_active_runs"] == 10  # the default
        manual = {"logical_date": datetime.now(UTC).isoformat()}
        assert api.call("POST", f"/dags/{dag_id}/dagRuns", json=manual).status_code == 200
        assert api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
        runs = wait_for_runs(api, dag_id, 13 + 2, sched)
        deadline = time.monotonic() + 120  # the scheduler closes a backfill after its last run
        while not api.get(f"/backfills/{backfill['id']}")["completed_at"]:
            assert time.monotonic() < deadline, "the REST backfill was never marked complete"
            time.sleep(2)

        # Orders that turn up late, in the older windows: only those windows' runs find them.
        seed(cli_first, 12)
        cli = fill(commands["airflow"], name, cli_first, cli_last)
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        run_as_written(cli, {**sched.env, "PATH": path})  # a shell with the virtualenv active
        manual = {"logical_date": datetime.now(UTC).isoformat()}
        assert api.call("POST", f"/dags/{dag_id}/dagRuns", json=manual).status_code == 200
        runs = wait_for_runs(api, dag_id, len(runs) + 12 + 1, sched)

    kinds = sorted({r["run_type"] for r in runs})
    assert kinds == ["backfill", "manual", "scheduled"], kinds
    assert sum(r["run_type"] == "backfill" for r in runs) == 25
    failed = [(r["dag_run_id"], r["state"]) for r in runs if r["state"] != "success"]
    assert failed == [], failed
    delivered = order_numbers(sftp_server.root / "in")
    assert sorted(delivered) == sorted(seeded)  # every order, each exactly once
    assert len(delivered) == len(set(delivered)) == 40

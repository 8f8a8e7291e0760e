"""Held orders wait for a person under a REAL scheduler, while the orders DAG keeps its schedule.

A real scheduler (LocalExecutor, cron runs on), dag-processor and api-server; the connection's
registry entry in the metadata DB, its orders DAG on a one-minute schedule; the real sshd; the
Shopify emulator. Two Canadian orders are held (``hold_countries``): the orders run triggers a
``dropstream_review`` run whose Required Action is answered through the REST API the Required
Actions page uses — Release, for one of the two. It goes out in the next orders run; the other
is asked about again in a new Required Action nobody answers: it times out and stays held. The
orders DAG's scheduled runs succeed all the while.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ledgers import sqlite_ledger_url
from tests.servers.airflow_scheduler import AirflowScheduler, running_scheduler
from tests.servers.shopify import shopify_connection_json
from tests.specs import spec_dict

REVIEW = "dropstream_review"
ASK = "ask_held_orders"
TIMEOUT = 420
HELD_HOURS = 0.05  # 3 minutes: how long a review waits for an answer
CANADA = {
    "name": "Lou Client",
    "firstName": "Lou",
    "lastName": "Client",
    "company": None,
    "address1": "1 rue Principale",
    "address2": None,
    "city": "Montréal",
    "province": "Quebec",
    "provinceCode": "QC",
    "zip": "H2X 1Y4",
    "country": "Canada",
    "countryCodeV2": "CA",
    "phone": None,
}

pytestmark = [pytest.mark.slow, pytest.mark.sshd]


def delivered(folder: Path) -> list[str]:
    numbers = []
    for path in folder.iterdir():
        if not path.name.startswith("."):
            rows = csv.reader(io.StringIO(path.read_text()))
            numbers += [row[1] for row in rows if row and row[0] == "PH"]
    return sorted(numbers)


def until(
    what: str, check, sched: AirflowScheduler, timeout: float = TIMEOUT, logs=None, every=2.0
) -> Any:
    """Wait for ``check()``; on timeout, fail with the components' logs (and ``logs()``)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        sched.check_alive()
        if time.monotonic() > deadline:
            extra = logs()[-6000:] if logs else ""
            pytest.fail(f"{what}: not within {timeout}s\n{sched.logs()[-6000:]}\n{extra}")
        time.sleep(every)
    return found


def review_runs(api, connection: str) -> list[dict]:
    """The connection's review runs, oldest first (the session's metadata DB may hold other
    tests' runs of the one review DAG)."""
    runs = api.get(f"/dags/{REVIEW}/dagRuns", params={"order_by": "start_date", "limit": 100})
    mine = f"review__{connection}__"
    return [r for r in runs["dag_runs"] if r["dag_run_id"].startswith(mine)]


def waiting(api, run_id: str) -> str | None:
    """The run's ask task's state, when it is waiting for a person."""
    ti = api.call("GET", f"/dags/{REVIEW}/dagRuns/{run_id}/taskInstances/{ASK}")
    return ti.ok and ti.json()["state"] == "awaiting_input" and ti.json()["state"]


def succeeded(api, run_id: str) -> bool:
    """Whether the review run succeeded; a failed one fails the test at once, with its logs."""
    state = api.get(f"/dags/{REVIEW}/dagRuns/{run_id}")["state"]
    if state == "failed":
        pytest.fail(f"review run {run_id} failed:\n{task_logs(api, run_id)}")
    return state == "success"


def log_lines(response) -> str:
    """A task log as the UI shows it: a line per event (time, level, event, error detail)."""
    try:
        events = response.json()["content"]
    except (ValueError, KeyError, TypeError):
        return response.text
    lines = []
    for e in events:
        if isinstance(e, dict):
            extra = e.get("error_detail") or ""
            lines.append(f"{e.get('timestamp', '')} {e.get('level', '')} {e.get('event')} {extra}")
        else:
            lines.append(str(e))
    return "\n".join(lines)


def task_logs(api, run_id: str, each: int = 4000) -> str:
    """The run's task logs, failed tasks first, the last ``each`` characters of each (so the
    failure's own log is never cut off by the others')."""
    tis = api.get(f"/dags/{REVIEW}/dagRuns/{run_id}/taskInstances")["task_instances"]
    out = []
    for ti in sorted(tis, key=lambda ti: ti["state"] != "failed"):
        if not ti["try_number"]:
            out.append(f"--- {ti['task_id']} ({ti['state']}, never ran)")
            continue
        path = f"/dags/{REVIEW}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/"
        log = api.call("GET", f"{path}{ti['try_number']}", params={"full_content": True})
        out.append(f"--- {ti['task_id']} ({ti['state']})\n{log_lines(log)[-each:]}")
    return "\n".join(out)


@pytest.mark.timeout(3 * TIMEOUT + 300)
def test_a_held_order_waits_for_a_person_not_for_the_orders_dag(
    airflow_api_server,
    registered,
    sftp_server,
    shopify_emulator,
    tmp_path,
    tmp_path_factory,
    monkeypatch,
):
    from dropstream.ledger import Ledger

    api, shop = airflow_api_server, shopify_emulator
    name = f"rv_{uuid.uuid4().hex[:6]}"
    orders_dag = f"dropstream__{name}__orders"
    now = datetime.now(UTC).replace(microsecond=0)
    registered(
        name,
        spec_dict(
            name,
            start_date=(now - timedelta(hours=1)).isoformat(),
            schedules={"orders": "* * * * *"},
            rules={"default_ship_method": "UPS_GROUND", "hold_countries": ["CA"]},
            alerts={"held_hours": HELD_HOURS},
        ),
    )
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", shopify_connection_json(shop)
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_WAREHOUSE", sftp_server.connection_json()
    )
    base = 7100 + int(uuid.uuid4().hex[:3], 16) % 800 * 10
    canadian, other, plain = base + 1, base + 2, base + 3
    for number, address in ((canadian, CANADA), (other, CANADA), (plain, None)):
        at = now - timedelta(minutes=30)
        shop.add_order(number, created_at=at, updated_at=at, address=address)
    inbox = sftp_server.root / "in"

    with running_scheduler(tmp_path_factory.mktemp("review"), job_schedule=True) as sched:
        until("the orders DAG parsed", lambda: api.call("GET", f"/dags/{orders_dag}").ok, sched)
        assert api.call("PATCH", f"/dags/{orders_dag}", json={"is_paused": False}).ok

        # 1. the first scheduled run sends the plain order and holds the Canadian ones: a review
        first = until("a review run", lambda: review_runs(api, name), sched)[0]["dag_run_id"]
        until("the Required Action", lambda: waiting(api, first), sched, every=0.2)

        # 2. a person releases one of them, at once: an answer within a second or so of the
        # task starting to wait is one Airflow 3.3.2's scheduler may fail the task over; the
        # ask task's retry then applies it (tests/dropstream/test_review_retry.py)
        answer = {
            "chosen_options": ["Release"],
            "params_input": {"apply_to": [f"#{canadian}"], "why": "address checked"},
        }
        hitl = f"/dags/{REVIEW}/dagRuns/{first}/taskInstances/{ASK}/-1/hitlDetails"
        response = api.call("PATCH", hitl, json=answer)
        assert response.ok, response.text
        assert delivered(inbox) == [str(plain)]
        detail = api.get(hitl)
        assert detail["options"] == ["Release", "Cancel", "Keep holding"]
        assert detail["defaults"] == ["Keep holding"]
        assert detail["subject"] == f"{name} (acme-goods): 2 held orders to review"
        for number in (canadian, other):
            assert f"| #{number} | " in detail["body"]
        assert "CA" in detail["body"]
        assert detail["params"]["apply_to"]["value"] == [f"#{canadian}", f"#{other}"]
        until(
            "the answer applied",
            lambda: succeeded(api, first),
            sched,
            logs=lambda: task_logs(api, first),
        )
        ask = api.get(f"/dags/{REVIEW}/dagRuns/{first}/taskInstances/{ASK}")
        if ask["try_number"] > 1:  # Airflow failed the first try: the retry applied the answer
            log = task_logs(api, first, each=100_000)
            assert "Airflow failed it after that: applying that answer" in log, log
        print(f"answer applied by try {ask['try_number']} of {ASK}")
        until(
            "the released order sent by the next orders run",
            lambda: delivered(inbox) == sorted([str(plain), str(canadian)]),
            sched,
        )

        # 3. the one left out is asked again; nobody answers; the orders DAG keeps running
        second = until(
            "a second review run",
            lambda: [r["dag_run_id"] for r in review_runs(api, name) if r["dag_run_id"] != first],
            sched,
        )[0]
        until("the second Required Action", lambda: waiting(api, second), sched)
        waiting_since = datetime.now(UTC)
        until(
            "the review timed out",
            lambda: succeeded(api, second),
            sched,
            logs=lambda: task_logs(api, second),
        )
        timed_out_at = datetime.now(UTC)
        runs = api.get(f"/dags/{orders_dag}/dagRuns", params={"limit": 100})["dag_runs"]

    meanwhile = [
        r
        for r in runs
        if r["run_type"] == "scheduled"
        and r["state"] == "success"
        and datetime.fromisoformat(r["start_date"]) > waiting_since
        and datetime.fromisoformat(r["end_date"]) < timed_out_at
    ]
    assert len(meanwhile) >= 2, [(r["run_type"], r["state"], r["start_date"]) for r in runs]
    assert [r for r in runs if r["state"] == "failed"] == []
    assert delivered(inbox) == sorted([str(plain), str(canadian)])  # the other stays held

    ledger = Ledger()
    try:
        found = {
            row["number"]: row
            for row in ledger.find_orders(name, numbers=[str(canadian), str(other)])[0]
        }
        released = ledger.order_timeline(name, found[str(canadian)]["order_id"])
        held = ledger.order_timeline(name, found[str(other)]["order_id"])
    finally:
        ledger.close()
    assert found[str(other)]["state"] == "held"
    steps = [(e.event, e.actor) for e in released]
    assert steps[:4] == [
        ("received", None),
        ("held", None),
        ("review_asked", None),
        ("released", api.username),
    ]
    assert [e for e, _ in steps[4:]] == ["in_file", "published"]
    assert [e.detail for e in released if e.event == "released"] == ["address checked"]
    assert [(e.event, e.actor) for e in held][-2:] == [
        ("review_asked", None),
        ("review_timed_out", None),
    ]

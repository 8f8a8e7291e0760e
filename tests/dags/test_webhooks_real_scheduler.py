"""Store webhooks start the orders DAG at once, under a REAL api-server, scheduler and
dag-processor (issue 14).

The Shopify emulator sends its signed ``orders/create`` webhooks (subscribed through setup's own
registration code) through a TCP proxy to the plugin's receiver in the api-server, which records
the delivery and has the asset event recorded; the scheduler starts the asset-triggered orders
run; the order lands in the real sshd's folder. Then: a burst of 100 webhooks within a second
(the emulator delivers them concurrently; every answer is a 2xx at the first attempt) is a few
runs and every order once; with the receiver unreachable the cron run sends the orders, and the
webhooks the emulator retries after the outage send nothing twice. The connection's orders cron
is every 3 minutes here (an explicit ``schedules.orders``), so the safety net fires within the
test.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter
from sqlalchemy import select

from dropstream.ledger import Ledger
from dropstream.ledger.schema import orders as orders_table
from dropstream.sandbox.shopify import ShopifyEmulator, shopify_connection_json
from dropstream.setup.webhooks import StoreAccess, receiver_url, register
from tests.dags.test_backfill_real_scheduler import order_numbers
from tests.ledgers import migrated
from tests.servers._emulator import running
from tests.servers.airflow_scheduler import AirflowScheduler, running_scheduler
from tests.specs import spec_dict

CRON = "*/3 * * * *"
DONE = {"success", "failed"}
pytestmark = [pytest.mark.slow, pytest.mark.sshd, pytest.mark.postgres]


def runs(api: Any, dag_id: str) -> list[dict[str, Any]]:
    return api.get(f"/dags/{dag_id}/dagRuns", params={"limit": 200})["dag_runs"]


def wait_until(what: str, check: Any, sched: AirflowScheduler, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        sched.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f}s\n{sched.logs()[-4000:]}")
        time.sleep(0.5)


def all_done(api: Any, dag_id: str) -> bool:
    return all(r["state"] in DONE for r in runs(api, dag_id))


def quiet(api: Any, dag_id: str) -> bool:
    """Every run done and no asset event queued for the DAG (a queued event becomes a run once
    the running one ends: max_active_runs=1)."""
    response = api.call("GET", f"/dags/{dag_id}/assets/queuedEvents")
    queued = response.json().get("queued_events", []) if response.status_code == 200 else []
    return response.status_code in (200, 404) and not queued and all_done(api, dag_id)


def published(folder: Path) -> list[str]:
    """Order numbers in the published files (a run may be uploading one under its dot name)."""
    numbers = []
    for path in folder.iterdir() if folder.exists() else []:
        if not path.name.startswith("."):
            rows = csv.reader(io.StringIO(path.read_text()))
            numbers += [row[1] for row in rows if row and row[0] == "PH"]
    return numbers


def delivered(folder: Path, numbers: list[str]) -> bool:
    return set(numbers) <= set(published(folder))


def received_by(ledger_url: str, name: str, order_ids: list[str]) -> dict[str, str]:
    ledger = Ledger(ledger_url)
    try:
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                select(orders_table.c.order_id, orders_table.c.received_run).where(
                    orders_table.c.connection == name, orders_table.c.order_id.in_(order_ids)
                )
            )
            return {r.order_id: r.received_run for r in rows}
    finally:
        ledger.close()


def clear_of_a_tick(margin: float = 50.0) -> None:
    """Wait past the next cron tick if it is near: what follows is then the webhooks' work."""
    now = datetime.now(UTC)
    tick = croniter(CRON, now).get_next(datetime)
    if (tick - now).total_seconds() < margin:
        time.sleep((tick - now).total_seconds() + 5)


@pytest.mark.timeout(2400)
def test_webhooks_start_the_orders_run_and_the_schedule_catches_what_they_missed(
    airflow_api_server,
    registered,
    sftp_server,
    postgres_url,
    tcp_proxy,
    tmp_path_factory,
    monkeypatch,
):
    api = airflow_api_server
    # The receiver in the api-server remembers deliveries in its own ledger (the one its
    # environment names, as at its start): migrate it like a deployment does.
    home = Path(os.environ["AIRFLOW_HOME"])
    migrated(
        os.environ.get("DROPSTREAM_LEDGER_URL") or f"sqlite:///{home / 'dropstream_ledger.db'}"
    )
    ledger_url = migrated(postgres_url)  # the workers' ledger
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", ledger_url)

    name = f"wh_{uuid.uuid4().hex[:6]}"
    dag_id = f"dropstream__{name}__orders"
    folder = sftp_server.root / "in"
    shop = ShopifyEmulator(webhook_time_scale=0.03, allow_http_webhooks=True, webhook_workers=50)
    with running(shop):
        # Connections the api-server (receiver) and the workers both read, in the metadata DB.
        store = json.loads(
            shopify_connection_json(shop, webhook_secret=shop.webhooks.client_secret)
        )
        for body in (
            {
                "connection_id": f"dropstream_{name}_store",
                **store,
                "extra": json.dumps(store["extra"]),
            },
            {
                "connection_id": "dropstream_airflow_api",
                **json.loads(api.connection_json()),
            },
        ):
            api.call("DELETE", f"/connections/{body['connection_id']}")
            answer = api.call("POST", "/connections", json=body)
            assert answer.status_code == 201, answer.text
        monkeypatch.setenv(
            f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_WAREHOUSE", sftp_server.connection_json()
        )
        start = datetime.now(UTC) - timedelta(hours=1)
        registered(
            name,
            spec_dict(
                name,
                start_date=start.isoformat(),
                rules={"default_ship_method": "UPS"},
                schedules={"orders": CRON},
                webhooks={"enabled": True},
            ),
        )
        api_port = int(api.url.rsplit(":", 1)[1])
        proxy = tcp_proxy("127.0.0.1", api_port)
        hook_url = receiver_url(f"http://127.0.0.1:{proxy.port}", name)

        with running_scheduler(tmp_path_factory.mktemp("webhooks"), job_schedule=True) as sched:
            wait_until(
                "DAG parsed",
                lambda: api.call("GET", f"/dags/{dag_id}").status_code == 200,
                sched,
                240,
            )
            asset = f"dropstream://{name}/orders"
            wait_until(
                "asset registered",
                lambda: any(
                    a["uri"] == asset
                    for a in api.get("/assets", params={"uri_prefix_pattern": asset})["assets"]
                ),
                sched,
                120,
            )
            access = StoreAccess("shopify", shop.url, password=shop.token)
            assert len(register(access, hook_url, shop.webhooks.client_secret)) == 3

            # The first (scheduled) run imports the backlog and sets the watermark.
            assert (
                api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
            )
            wait_until("first run", lambda: runs(api, dag_id) and all_done(api, dag_id), sched, 300)

            # 1. One order: its webhook starts an asset-triggered run that sends it.
            clear_of_a_tick()
            placed = time.monotonic()
            one = shop.add_order(updated_at=datetime.now(UTC))
            number = str(shop.order(one).number)
            wait_until(
                "the webhook's order in the folder", lambda: delivered(folder, [number]), sched, 120
            )
            latency = time.monotonic() - placed
            print(f"webhook path: order {number} in the warehouse folder after {latency:.1f}s")
            assert received_by(ledger_url, name, [one])[one].startswith("asset_triggered__")
            # The 60 s target is bench/latency.py's to measure (no timed assertion in a test).

            # 2. A burst: 100 orders placed at once, their webhooks delivered concurrently by the
            # emulator's 50 delivery threads, each answered 2xx at the first attempt (no retry);
            # a few runs, every order exactly once.
            wait_until("runs idle", lambda: all_done(api, dag_id), sched, 120)
            clear_of_a_tick(90)
            before = {r["dag_run_id"] for r in runs(api, dag_id)}
            tried = len(shop.webhooks.sender.attempts)
            burst = [shop.add_order(updated_at=datetime.now(UTC)) for _ in range(100)]
            numbers = [str(shop.order(o).number) for o in burst]
            assert shop.webhooks.sender.wait_idle(60)
            tries = shop.webhooks.sender.attempts[tried:]
            assert [(a.number, a.status) for a in tries] == [(1, 200)] * 100, tries
            spread = max(a.sent for a in tries) - min(a.sent for a in tries)
            slowest = max(a.at - a.sent for a in tries)
            load = os.getloadavg()[0]  # the 1 s budget is for this machine: say how busy it was
            print(
                f"burst: 100 webhooks sent within {spread:.2f}s, slowest answer {slowest:.2f}s "
                f"(load average {load:.1f} on {os.cpu_count()} cores)"
            )
            # Every delivery answered 200 at its first attempt (above): none retried. How fast is
            # bench/latency.py's figure (target: each answer within 1 s), not a timed assertion.
            wait_until("the burst in the folder", lambda: delivered(folder, numbers), sched, 300)
            wait_until("runs idle", lambda: all_done(api, dag_id), sched, 120)
            new_runs = [r for r in runs(api, dag_id) if r["dag_run_id"] not in before]
            assert 1 <= len(new_runs) <= 4, [r["dag_run_id"] for r in new_runs]
            sent = published(folder)
            assert len(sent) == len(set(sent)), "an order was sent twice"
            assert sorted(n for n in sent if n in set(numbers)) == sorted(numbers)

            # 3. The receiver unreachable: the cron run sends what the webhooks could not start.
            # First let the burst's last queued asset events become runs and finish: a run they
            # start after the cut would (rightly) fetch the missed orders from the watermark.
            wait_until("no run or asset event pending", lambda: quiet(api, dag_id), sched, 300)
            clear_of_a_tick(120)
            proxy.cut()
            missed = [shop.add_order(updated_at=datetime.now(UTC)) for _ in range(5)]
            missed_numbers = [str(shop.order(o).number) for o in missed]
            wait_until(
                "the scheduled run sends the missed orders",
                lambda: delivered(folder, missed_numbers),
                sched,
                420,
            )
            by = received_by(ledger_url, name, missed)
            assert all(run.startswith("scheduled__") for run in by.values()), by
            failed = [a for a in shop.webhooks.sender.attempts if a.status is None]
            assert failed, "the emulator's deliveries should have failed while the proxy was cut"

            # 4. The receiver back: the emulator's retries arrive late, start a run, send nothing.
            runs_before_late = {r["dag_run_id"] for r in runs(api, dag_id)}
            proxy.restore()
            assert shop.webhooks.sender.wait_idle(600), "retries did not finish"
            late = [a for a in shop.webhooks.sender.attempts if a.number > 1 and a.status == 200]
            assert len(late) == 5, shop.webhooks.sender.attempts[-12:]
            wait_until(
                "a run for the late webhooks",
                lambda: any(
                    r["run_type"] == "asset_triggered" and r["dag_run_id"] not in runs_before_late
                    for r in runs(api, dag_id)
                ),
                sched,
                120,
            )
            wait_until("runs idle", lambda: all_done(api, dag_id), sched, 180)

        every = runs(api, dag_id)
        failed_runs = [(r["dag_run_id"], r["state"]) for r in every if r["state"] != "success"]
        assert failed_runs == [], failed_runs
        sent = order_numbers(folder)
        expected = [number, *numbers, *missed_numbers]
        assert len(sent) == len(set(sent)), "an order was sent twice"
        assert set(expected) <= set(sent)

"""Order latency, store → warehouse folder: through webhooks, next to the scheduled path.

The production topology as processes (``bench/stack.py``: api-server with the DropStream plugin,
scheduler, dag-processor, triggerer, Celery worker; PostgreSQL, Redis), one Shopify emulator and
one FTP warehouse. Two connections read the *same* shop into their own folders:

- ``lat-hooks``: webhooks on; the emulator's signed ``orders/create`` webhooks (subscribed
  through setup's own registration code) reach the plugin's receiver, which starts the orders
  DAG through its asset;
- ``lat-cron``: webhooks off; its orders DAG runs on the default 15-minute cadence (at the
  connection's offset), the path every connection had before.

``--orders`` orders are placed ``--interval`` seconds apart. Latency of an order = the moment its
number appears in a published file of the connection's folder (polled every 0.25 s) minus the
moment it was placed. p50/p95 are printed for both paths over the same orders; the target for
the webhook path is p95 < 60 s. Then a burst: ``--burst`` orders placed at once, their webhooks
delivered concurrently by the emulator's 50 delivery threads; printed: how long the burst took
to send, the receiver's answer times (target: every answer within 1 s), retries, and how many
runs it started. Heavy: about 25 minutes (the cron path waits for its tick).

    .venv/bin/python bench/latency.py [--orders 50] [--interval 6] [--burst 100]
    .venv/bin/python bench/latency.py --orders 0      # the burst alone: about 8 minutes
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]

from bench.scale import FTP_PASSWORD, FTP_USER, start_warehouse  # noqa: E402
from bench.stack import Stack, running_stack  # noqa: E402

from dropstream.sandbox.shopify import ShopifyEmulator  # noqa: E402
from dropstream.setup.webhooks import StoreAccess, receiver_url, register  # noqa: E402

HOOKS, CRON = "lat-hooks", "lat-cron"


def entry(name: str, webhooks: bool, start: datetime) -> dict[str, Any]:
    return {
        "name": name,
        "merchant": "bench",
        "store": {
            "name": "bench shop",
            "platform": "shopify",
            "conn_id": f"dropstream_{name}_store",
        },
        "warehouse": {
            "name": "bench 3PL",
            "protocol": "ftp",
            "conn_id": "dropstream_bench_warehouse",
            "paths": {
                "orders": f"/{name}/in",
                "shipments": f"/{name}/out",
                "inventory": f"/{name}/out",
                "archive": f"/{name}/archive",
            },
            "format": "header_detail_csv",
        },
        "rules": {"default_ship_method": "UPS_GROUND"},
        "webhooks": {"enabled": webhooks},
        "start_date": start.isoformat(),
    }


class Arrivals:
    """Watches the warehouse folders: when each order number first appears in a published file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: dict[str, dict[str, float]] = {HOOKS: {}, CRON: {}}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for name, seen in self.seen.items():
                for path in (self.root / name / "in").iterdir():
                    if path.name.startswith("."):
                        continue  # still being uploaded under its temporary name
                    rows = csv.reader(io.StringIO(path.read_text()))
                    for row in rows:
                        if row and row[0] == "PH":
                            seen.setdefault(row[1], now)
            time.sleep(0.25)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def percentiles(values: list[float]) -> str:
    if not values:
        return "no orders arrived"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:6.1f} s   p95 {cuts[94]:6.1f} s   max {max(values):6.1f} s"


def wait_idle(stack: Stack, dag_ids: list[str], timeout: float) -> None:
    def idle() -> bool:
        runs = [r for d in dag_ids for r in stack.runs(d)]
        return bool(runs) and all(r["state"] in ("success", "failed") for r in runs)

    stack.wait_until(idle, "orders runs finished", timeout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--interval", type=float, default=6.0, help="seconds between orders")
    parser.add_argument("--burst", type=int, default=100, help="orders placed at once (0: none)")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="ds-latency-"))
    warehouse = base / "warehouse"
    for name in (HOOKS, CRON):
        for folder in ("in", "out", "archive"):
            (warehouse / name / folder).mkdir(parents=True)
    ftp, ftp_port = start_warehouse(warehouse)
    shop = ShopifyEmulator(allow_http_webhooks=True, webhook_workers=50).start()
    print(f"latency bench: {args.orders} orders, {args.interval}s apart; base {base}", flush=True)
    try:
        with running_stack(base / f"ds{uuid.uuid4().hex[:8]}") as stack:
            stack.upsert_connection(
                "dropstream_bench_warehouse",
                {"conn_type": "ftp", "host": "127.0.0.1", "port": ftp_port, "login": FTP_USER,
                 "password": FTP_PASSWORD, "extra": json.dumps({"passive": True})},
            )  # fmt: skip
            secret = shop.webhooks.client_secret
            for name in (HOOKS, CRON):
                extra = {
                    "api_version": "2026-10",
                    **({"webhook_secret": secret} if name == HOOKS else {}),
                }
                stack.upsert_connection(
                    f"dropstream_{name}_store",
                    {"conn_type": "http", "host": shop.url, "password": shop.token,
                     "extra": json.dumps(extra)},
                )  # fmt: skip
            start = datetime.now(UTC) - timedelta(hours=1)
            registry = {HOOKS: entry(HOOKS, True, start), CRON: entry(CRON, False, start)}
            stack.set_variable("dropstream_connections", json.dumps(registry))
            dag_ids = [f"dropstream__{name}__orders" for name in (HOOKS, CRON)]
            stack.wait_until(
                lambda: set(dag_ids) <= stack.dag_ids("dropstream__"), "DAGs parsed", 600
            )
            asset = f"dropstream://{HOOKS}/orders"
            stack.wait_until(
                lambda: any(
                    a["uri"] == asset
                    for a in stack.get("/assets", params={"uri_prefix_pattern": asset})["assets"]
                ),
                "the webhook asset registered",
                300,
            )
            access = StoreAccess("shopify", shop.url, password=shop.token)
            register(access, receiver_url(stack.url, HOOKS), secret)
            for dag_id in dag_ids:
                stack.unpause(dag_id)
            wait_idle(stack, dag_ids, 600)  # the first runs (backlog: none) set the watermarks
            print("stack up, first runs done; placing orders", flush=True)

            arrivals = Arrivals(warehouse)
            placed: dict[str, float] = {}
            for _ in range(args.orders):
                order = shop.add_order(updated_at=datetime.now(UTC))
                placed[str(shop.order(order).number)] = time.time()
                time.sleep(args.interval)
            # The cron path waits for its tick (up to 15 minutes) and its run.
            stack.wait_until(
                lambda: all(set(placed) <= set(arrivals.seen[n]) for n in (HOOKS, CRON)),
                "every order in both folders",
                20 * 60,
            )
            wait_idle(stack, dag_ids, 600)
            runs = {d: stack.runs(d) for d in dag_ids}
            burst = run_burst(shop, stack, arrivals, dag_ids[0], args.burst) if args.burst else ""
            arrivals.stop()
    finally:
        shop.stop()
        ftp.close_all()

    if placed:
        print(f"\n{args.orders} orders, {args.interval}s apart (placed -> file in the folder)")
        for label, name in (("webhooks", HOOKS), ("scheduled (15 min)", CRON)):
            latencies = [arrivals.seen[name][n] - t for n, t in placed.items()]
            print(f"  {label:<20} {percentiles(latencies)}")
    for dag_id, dag_runs in runs.items():
        kinds: dict[str, int] = {}
        for run in dag_runs:
            kinds[run["run_type"]] = kinds.get(run["run_type"], 0) + 1
        failed = sum(r["state"] != "success" for r in dag_runs)
        print(f"  {dag_id}: runs {kinds}, not successful {failed}")
    if placed:
        hooks = [arrivals.seen[HOOKS][n] - t for n, t in placed.items()]
        p95 = statistics.quantiles(hooks, n=100, method="inclusive")[94]
        print(f"\nwebhook p95 {p95:.1f} s: {'meets' if p95 < 60 else 'MISSES'} the 60 s target")
    if burst:
        print(burst)


def run_burst(shop: ShopifyEmulator, stack: Stack, arrivals: Arrivals, dag_id: str, n: int) -> str:
    """Place ``n`` orders at once; their webhooks go out concurrently. Returns the printed lines."""
    before = {r["dag_run_id"] for r in stack.runs(dag_id)}
    tried = len(shop.webhooks.sender.attempts)
    orders = [shop.add_order(updated_at=datetime.now(UTC)) for _ in range(n)]
    numbers = [str(shop.order(order).number) for order in orders]
    if not shop.webhooks.sender.wait_idle(120):
        raise SystemExit("the burst's webhooks were not all delivered within 120 s")
    tries = shop.webhooks.sender.attempts[tried:]
    stack.wait_until(lambda: set(numbers) <= set(arrivals.seen[HOOKS]), "the burst's orders", 900)
    wait_idle(stack, [dag_id], 600)
    new_runs = [r for r in stack.runs(dag_id) if r["dag_run_id"] not in before]
    spread = max(a.sent for a in tries) - min(a.sent for a in tries)
    answers = [a.at - a.sent for a in tries]
    slowest = max(answers)
    retried = sum(a.number > 1 for a in tries)
    statuses = sorted({a.status for a in tries})
    return (
        f"\nburst of {n} orders: {len(tries)} deliveries sent within {spread:.2f} s, statuses "
        f"{statuses}, {retried} retried\n  answers p50 {statistics.median(answers):.2f} s, "
        f"max {slowest:.2f} s: "
        f"{'meets' if slowest < 1 else 'MISSES'} the 1 s target\n  runs started: {len(new_runs)}"
    )


if __name__ == "__main__":
    main()

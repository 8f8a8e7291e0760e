"""How many connections one deployment holds: DropStream's DAGs on the production topology
(bench/stack.py: api-server, scheduler, dag-processor, triggerer, Celery worker; PostgreSQL and
Redis), next to a floor of trivial DAGs run the same way on the same stack.

N connections (``--connections``, default 100), each with its own Shopify emulator (one order a
minute) and a folder on one FTP warehouse, have their orders DAG (``--flows``) scheduled every
minute for ``--minutes``. Then N trivial three-task DAGs (PythonOperators that do nothing) run
the same way, with the same schedules. Printed for each: runs completed per minute, schedule lag
(run start minus its ``run_after``) p50/p95, task duration p50/p95 per step, worker CPU-seconds
per run, and the ratio DropStream / floor. DropStream runs twice: with each connection's
schedule at its own second (``offset_schedule``, the default) and all at :00 (no offsets).

    .venv/bin/python bench/scale.py [--connections 100] [--minutes 5] [--flows orders]

Targets (bench/results.md): lag p95 with offsets <= 1.2x the floor's; CPU-s per run <= 1.75x.
Imports no test code: the store emulators run in a child process
(``python -m dropstream.sandbox.shopify.pool``) and are reached over HTTP, like real stores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]

from bench.stack import Stack, running_stack  # noqa: E402

from dropstream.spec import offset_schedule, schedule_offset  # noqa: E402

FTP_USER, FTP_PASSWORD = "bench", "bench-password"
STEPS = ("extract", "transform", "load")
DRAIN_SECONDS = 180
FLOOR_DAG = '''"""bench/scale.py's floor: trivial three-task DAGs, scheduled like DropStream's."""
import json
from datetime import datetime, timezone
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable


def nothing():
    return None


for entry in json.loads((Path(__file__).parent / "floor.json").read_text()):
    with DAG(
        dag_id=entry["dag_id"],
        schedule=CronDataIntervalTimetable(entry["schedule"], timezone="UTC"),
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        tags=["bench-floor"],
    ) as dag:
        extract = PythonOperator(task_id="extract", python_callable=nothing)
        transform = PythonOperator(task_id="transform", python_callable=nothing)
        load = PythonOperator(task_id="load", python_callable=nothing)
        extract >> transform >> load
    globals()[entry["dag_id"]] = dag
'''


# -- the outside world: stores and one warehouse ------------------------------------------------
def start_stores(count: int) -> tuple[subprocess.Popen[str], list[dict[str, str]]]:
    """The store emulators in a child process; their URLs and tokens."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dropstream.sandbox.shopify.pool",
            str(count),
            "--order-every",
            "60",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    shops = [json.loads(process.stdout.readline()) for _ in range(count)]
    return process, shops


def start_warehouse(root: Path) -> tuple[Any, int]:
    """One FTP server (pyftpdlib) over ``root``: every connection has its own folders in it."""
    logger = logging.getLogger("pyftpdlib")
    logger.addHandler(logging.NullHandler())  # a handler: pyftpdlib then logs nothing by itself
    logger.setLevel(logging.WARNING)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, str(root), perm="elradfmwMT")
    handler = type("BenchFTPHandler", (FTPHandler,), {"authorizer": authorizer})
    server = ThreadedFTPServer(("127.0.0.1", 0), handler)
    server.max_cons = 512
    threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.5}, daemon=True).start()
    return server, server.address[1]


# -- what one variant runs ----------------------------------------------------------------------
def schedule(name: str, flow: str, offsets: bool) -> str:
    return offset_schedule(60, schedule_offset(name, flow, 60)) if offsets else "* * * * *"


def connection_names(count: int) -> list[str]:
    return [f"scale-{i:04d}" for i in range(count)]


def registry(count: int, flows: list[str], offsets: bool) -> dict[str, Any]:
    entries = {}
    for name in connection_names(count):
        entries[name] = {
            "name": name,
            "merchant": "bench",
            "store": {"name": name, "platform": "shopify", "conn_id": f"dropstream_{name}_store"},
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
            # Flows not measured keep a schedule too; their DAGs stay paused.
            "schedules": {
                f: schedule(name, f, offsets) for f in ("orders", "inventory", "tracking")
            },
            "start_date": "2026-01-01T00:00:00+00:00",
        }
    return entries


@dataclass
class Variant:
    label: str
    dag_ids: dict[str, str]  # DAG id -> its cron
    selections: list[dict[str, str]]  # query filters of the bulk pause/unpause, one call each
    figures: dict[str, Any] = field(default_factory=dict)


def worker_cpu_seconds(stack: Stack) -> float:
    """CPU time of the worker's whole session: live processes plus the children they reaped."""
    import psutil

    worker = stack.components["worker"].process
    assert worker is not None
    total = 0.0
    for proc in psutil.process_iter(["pid"]):
        try:
            if __import__("os").getsid(proc.pid) != worker.pid:
                continue
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return total


def set_paused(stack: Stack, variant: Variant, paused: bool) -> None:
    for selection in variant.selections:
        response = stack.call("PATCH", "/dags", params=selection, json={"is_paused": paused})
        response.raise_for_status()
    states = {dag_id: state for dag_id, (_cron, state) in dags(stack).items()}
    if missed := [d for d in variant.dag_ids if states.get(d) is not paused]:
        raise RuntimeError(f"{len(missed)} DAGs not (un)paused, e.g. {sorted(missed)[:3]}")


def dags(stack: Stack) -> dict[str, tuple[str, bool]]:
    """Every DAG: its schedule and whether it is paused."""
    found: dict[str, tuple[str, bool]] = {}
    offset = 0
    while True:
        page = stack.get("/dags", params={"limit": 100, "offset": offset})
        found |= {d["dag_id"]: (d["timetable_summary"], d["is_paused"]) for d in page["dags"]}
        offset += 100
        if offset >= page["total_entries"]:
            return found


def wait_parsed(stack: Stack, wanted: dict[str, str]) -> None:
    def ready() -> bool:
        found = dags(stack)
        return all(found.get(dag_id, ("", True))[0] == cron for dag_id, cron in wanted.items())

    stack.wait_until(ready, f"{len(wanted)} DAGs parsed with their schedules", 600)


def measure(stack: Stack, variant: Variant, minutes: float) -> None:
    """Unpause the variant's DAGs for ``minutes``, pause them, give started runs DRAIN_SECONDS to
    finish; then the figures.

    Lag is a run's first task start minus its ``run_after``: when work begins, not when the
    scheduler marks the run running (under load a run can sit "running" with its first task
    queued for minutes). CPU per run is the worker's CPU over the whole measurement divided by
    the task instances that finished in it, times three (tasks per run), so runs cut off at
    either end count by the tasks they did run.
    """
    wait_parsed(stack, variant.dag_ids)
    cpu0 = worker_cpu_seconds(stack)
    t0 = datetime.now(UTC)
    set_paused(stack, variant, False)
    print(f"  {variant.label}: {len(variant.dag_ids)} DAGs unpaused at {t0:%H:%M:%S}", flush=True)
    time.sleep(minutes * 60)
    t1 = datetime.now(UTC)
    set_paused(stack, variant, True)
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        active = [r for r in runs_of(stack, variant, t0) if r["state"] in ("queued", "running")]
        if not active:
            break
        time.sleep(5)
    cpu1 = worker_cpu_seconds(stack)
    t2 = datetime.now(UTC)
    stop_leftovers(stack, variant, t0)  # so the next variant starts on an idle worker
    scheduled = [r for r in runs_of(stack, variant, t0) if r["run_type"] == "scheduled"]
    in_window = {
        (r["dag_id"], r["dag_run_id"]): r for r in scheduled if t0 <= _t(r["run_after"]) < t1
    }
    tis = [
        ti
        for ti in stack.task_instances(start_date_gte=(t0 - timedelta(minutes=2)).isoformat())
        if ti["dag_id"] in variant.dag_ids
    ]
    first_start: dict[tuple[str, str], datetime] = {}
    for ti in tis:
        key = (ti["dag_id"], ti["dag_run_id"])
        if ti["start_date"] and key in in_window:
            start = _t(ti["start_date"])
            first_start[key] = min(first_start.get(key, start), start)
    lags = [(first_start[k] - _t(r["run_after"])).total_seconds()
            for k, r in in_window.items() if k in first_start]  # fmt: skip
    finished = [ti for ti in tis if ti["end_date"] and t0 <= _t(ti["end_date"]) <= t2]
    durations = {s: [float(ti["duration"]) for ti in finished if ti["task_id"] == s] for s in STEPS}
    done_in_window = [r for r in scheduled if r["end_date"] and t0 <= _t(r["end_date"]) <= t1]
    variant.figures = {
        "runs due in the window": len(in_window),
        "runs completed / min": len(done_in_window) / ((t1 - t0).total_seconds() / 60),
        "runs due but not started": len(in_window) - len(lags),
        "tasks failed": sum(1 for ti in finished if ti["state"] != "success"),
        "lag p50 (s)": _pct(lags, 50),
        "lag p95 (s)": _pct(lags, 95),
        **{f"{s} p50 (s)": _pct(durations[s], 50) for s in STEPS},
        **{f"{s} p95 (s)": _pct(durations[s], 95) for s in STEPS},
        "worker CPU-s / run": (cpu1 - cpu0) / max(len(finished), 1) * len(STEPS),
    }


def stop_leftovers(stack: Stack, variant: Variant, since: datetime) -> None:
    """Fail the runs still active after the drain, then wait until no task of them runs."""
    for run in runs_of(stack, variant, since):
        if run["state"] in ("queued", "running"):
            stack.call(
                "PATCH",
                f"/dags/{run['dag_id']}/dagRuns/{run['dag_run_id']}",
                json={"state": "failed"},
            ).raise_for_status()

    def idle() -> bool:
        busy = stack.task_instances(state=["queued", "running", "scheduled"])
        return not [ti for ti in busy if ti["dag_id"] in variant.dag_ids]

    stack.wait_until(idle, f"{variant.label}: no task left running", 300)


def runs_of(stack: Stack, variant: Variant, since: datetime) -> list[dict[str, Any]]:
    found = []
    for run in stack.runs(run_after_gte=(since - timedelta(minutes=1)).isoformat()):
        if run["dag_id"] in variant.dag_ids:
            found.append(run)
    return found


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _pct(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# -- the report ---------------------------------------------------------------------------------
def table(floor: Variant, offsets: Variant, no_offsets: Variant | None) -> str:
    heads = ["figure", floor.label, offsets.label, "ratio"]
    if no_offsets:
        heads += [no_offsets.label, "ratio"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for key in floor.figures:
        row = [key, _fmt(floor.figures[key]), _fmt(offsets.figures[key]),
               _ratio(offsets.figures[key], floor.figures[key])]  # fmt: skip
        if no_offsets:
            row += [
                _fmt(no_offsets.figures[key]),
                _ratio(no_offsets.figures[key], floor.figures[key]),
            ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _ratio(value: Any, floor: Any) -> str:
    if not isinstance(value, int | float) or not isinstance(floor, int | float) or not floor:
        return "–"
    return f"{value / floor:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--flows", default="orders", help="comma-separated, scheduled every minute")
    parser.add_argument("--worker-concurrency", type=int, default=8)
    parser.add_argument("--no-offsets-run", action=argparse.BooleanOptionalAction, default=True,
                        help="also run DropStream with every schedule at :00")  # fmt: skip
    args = parser.parse_args()
    flows = args.flows.split(",")
    n = args.connections

    base = Path(tempfile.mkdtemp(prefix="ds-scale-"))
    warehouse = base / "warehouse"
    for name in connection_names(n):
        for folder in ("in", "out", "archive"):
            (warehouse / name / folder).mkdir(parents=True)
    dags = base / "dags"
    dags.mkdir()
    for path in (ROOT / "dags").glob("*.py"):
        (dags / path.name).symlink_to(path)
    (dags / "floor.json").write_text("[]")
    (dags / "bench_floor.py").write_text(FLOOR_DAG)

    stores, shops = start_stores(n)
    ftp, ftp_port = start_warehouse(warehouse)
    env = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PARALLELISM": "64",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
    }
    started = time.monotonic()
    print(f"scale bench: {n} connections, flows {flows} every minute, {args.minutes} min each; "
          f"worker concurrency {args.worker_concurrency}; base {base}", flush=True)  # fmt: skip
    try:
        with running_stack(base / f"ds{uuid.uuid4().hex[:8]}", extra_env=env,
                           worker_concurrency=args.worker_concurrency) as stack:  # fmt: skip
            stack.upsert_connection(
                "dropstream_bench_warehouse",
                {"conn_type": "ftp", "host": "127.0.0.1", "port": ftp_port, "login": FTP_USER,
                 "password": FTP_PASSWORD, "extra": json.dumps({"passive": True})},
            )  # fmt: skip
            for name, shop in zip(connection_names(n), shops, strict=True):
                stack.upsert_connection(
                    f"dropstream_{name}_store",
                    {"conn_type": "http", "host": shop["url"], "password": shop["token"],
                     "extra": json.dumps({"api_version": "2026-10"})},
                )  # fmt: skip

            floor_ids = {f"floor_{i:04d}_{f}": schedule(f"scale-{i:04d}", f, True)
                         for i in range(n) for f in flows}  # fmt: skip
            (dags / "floor.json").write_text(
                json.dumps([{"dag_id": k, "schedule": v} for k, v in floor_ids.items()])
            )
            floor = Variant("floor (trivial DAGs)", floor_ids, [{"dag_id_pattern": "floor"}])
            measure(stack, floor, args.minutes)

            variants = [(True, "DropStream (offsets)")]
            if args.no_offsets_run:
                variants.append((False, "DropStream (all at :00)"))
            measured = []
            for offsets, label in variants:
                stack.set_variable(
                    "dropstream_connections", json.dumps(registry(n, flows, offsets))
                )
                ids = {f"dropstream__{name}__{f}": schedule(name, f, offsets)
                       for name in connection_names(n) for f in flows}  # fmt: skip
                selections = [{"dag_id_prefix_pattern": "dropstream__", "dag_id_pattern": f"__{f}"}
                              for f in flows]  # fmt: skip
                variant = Variant(label, ids, selections)
                measure(stack, variant, args.minutes)
                measured.append(variant)
    finally:
        if stores.stdin:
            stores.stdin.close()
        stores.wait(timeout=30)
        ftp.close_all()
    print()
    print(f"{n} connections, flows {','.join(flows)} every minute, {args.minutes:g} min per "
          f"variant, worker concurrency {args.worker_concurrency}; "
          f"bench took {(time.monotonic() - started) / 60:.1f} min")  # fmt: skip
    print(table(floor, measured[0], measured[1] if len(measured) > 1 else None))


if __name__ == "__main__":
    main()

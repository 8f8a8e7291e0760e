"""What the Celery worker's preload saves each task: the CPU a task process spends importing the
modules of a flow's three steps, forked from a worker that did or did not preload them.

Airflow forks every task from the worker (the Task SDK's supervisor), so a module the worker
imported before its pool forked costs the task nothing. Each variant runs in a fresh
interpreter that imports what an Airflow Celery worker has loaded (the executor's module and
Airflow's own preload of its operators), then (variant ``preload``)
``dropstream.worker_preload``; it forks ``--forks`` children that each import the step modules,
load Airflow's plugins as the Task SDK does for every task, and exit, and reports the children's
CPU-seconds (user + system) per fork.

    .venv/bin/python bench/preload.py [--forks 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What one task of each flow imports, beyond Airflow: the DAG file's modules, the step code, the
# ledger and its driver, a format, a transport and a store adapter (bench/scale.py's Shopify over
# FTP).
STEP_MODULES = [
    "dropstream.factory",
    "dropstream.registry",
    "dropstream.tasks",
    "dropstream.flows.orders",
    "dropstream.flows.inventory",
    "dropstream.flows.tracking",
    "dropstream.ledger",
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
    "adapters.shopify",
    "dropstream.transports.ftp",
    "dropstream.formats.header_detail_csv",
]

CHILD = r"""
import importlib, json, os, resource, sys
import airflow.sdk
import airflow.providers.standard.operators.python  # Airflow's own Celery preload
import airflow.providers.celery.executors.celery_executor_utils  # what a Celery worker has loaded
if sys.argv[1] == "preload":
    import dropstream.worker_preload
modules, forks = json.loads(sys.argv[2]), int(sys.argv[3])
costs = []
for _ in range(forks):
    pid = os.fork()
    if pid == 0:
        for name in modules:
            importlib.import_module(name)
        from airflow.sdk.plugins_manager import integrate_macros_plugins
        integrate_macros_plugins()  # what the Task SDK does when it starts a task
        os._exit(0)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.waitpid(pid, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    costs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
print(json.dumps(costs))
"""


def measure(variant: str, forks: int, home: str) -> list[float]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, variant, json.dumps(STEP_MODULES), str(forks)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{variant}: the probe failed:\n{done.stderr[-3000:]}")
    return [float(c) for c in json.loads(done.stdout.strip().splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ds-bench-preload-") as home:
        figures = {v: measure(v, args.forks, home) for v in ("none", "preload")}
    bare, preloaded = (statistics.median(figures[v]) for v in ("none", "preload"))
    print(
        f"step modules ({len(STEP_MODULES)}) and Airflow's plugins loaded by each forked task"
        f" ({args.forks} forks)"
    )
    print(f"  worker without preload : {bare:.3f} CPU-s per task (median)")
    print(f"  worker with preload    : {preloaded:.3f} CPU-s per task (median)")
    print(f"  saved per task         : {bare - preloaded:.3f} CPU-s")


if __name__ == "__main__":
    main()

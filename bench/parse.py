"""How long the generator takes to parse with 1,000 connections, next to a static file of the
same 3,000 three-task DAGs written out by hand. Target: ratio at most 2.0.

Each file is parsed by Airflow's own DagBag in a fresh interpreter (best of --repeat), as the
dag processor does. The registry reaches the generator through Airflow's LocalFilesystemBackend
(a 1,000-connection registry is larger than an environment variable may be).

    .venv/bin/python bench/parse.py [--connections 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT)]

from dropstream.sandbox.specs import spec_dict  # noqa: E402

STATIC_HEADER = """
from datetime import datetime, timedelta, timezone
from functools import partial

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, CronDataIntervalTimetable


def run(flow, step, name, **context):
    return None


DEFAULT_ARGS = {"owner": "dropstream", "retries": 3, "retry_delay": timedelta(minutes=1),
                "retry_exponential_backoff": 2.0, "max_retry_delay": timedelta(minutes=30)}
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
"""

STATIC_DAG = """
with DAG(dag_id="static__{name}__{flow}", schedule=CronDataIntervalTimetable("{cron}", timezone="UTC"),
         start_date=START, catchup=False, max_active_runs=1, is_paused_upon_creation=True,
         default_args=DEFAULT_ARGS, doc_md="Moves {flow} for {name}.",
         tags=["dropstream", "merchant:acme-goods", "platform:shopify", "connection:{name}"]) as dag_{index}:
    _e = PythonOperator(task_id="extract", python_callable=partial(run, "{flow}", "extract", "{name}"))
    _t = PythonOperator(task_id="transform", python_callable=partial(run, "{flow}", "transform", "{name}"))
    _l = PythonOperator(task_id="load", python_callable=partial(run, "{flow}", "load", "{name}"))
    _e >> _t >> _l
"""

CRONS = {"orders": "*/15 * * * *", "inventory": "0 * * * *", "tracking": "0 */4 * * *"}

PARSE = textwrap.dedent("""
    import sys, time
    from airflow.dag_processing.dagbag import DagBag
    start = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    elapsed = time.perf_counter() - start
    assert not bag.import_errors, bag.import_errors
    print(elapsed, len(bag.dag_ids))
""")


def write_static(path: Path, connections: int) -> None:
    parts = [STATIC_HEADER]
    index = 0
    for i in range(connections):
        for flow, cron in CRONS.items():
            parts.append(STATIC_DAG.format(name=f"shop-{i:04d}", flow=flow, cron=cron, index=index))
            index += 1
    path.write_text("".join(parts))


def parse_seconds(dag_file: Path, env: dict[str, str], repeat: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", PARSE, str(dag_file)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        best, count = min(best, float(out[-2])), int(out[-1])
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ds-bench-") as tmp:
        work = Path(tmp)
        registry = {f"shop-{i:04d}": spec_dict(f"shop-{i:04d}") for i in range(args.connections)}
        variables = work / "variables.json"
        variables.write_text(json.dumps({"dropstream_connections": json.dumps(registry)}))
        static = work / "static_dags.py"
        write_static(static, args.connections)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"variables_file_path": str(variables)}),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
        }
        env.pop("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", None)
        generated, n_generated = parse_seconds(
            ROOT / "dags" / "dropstream_connections.py", env, args.repeat
        )
        handwritten, n_static = parse_seconds(static, env, args.repeat)
    print(f"connections: {args.connections}")
    print(f"generator  : {generated:7.2f} s for {n_generated} DAGs")
    print(f"static file: {handwritten:7.2f} s for {n_static} DAGs")
    print(f"ratio      : {generated / handwritten:7.2f}  (target <= 2.0)")
    if n_generated != n_static:
        sys.exit(f"expected the same number of DAGs, got {n_generated} and {n_static}")


if __name__ == "__main__":
    main()

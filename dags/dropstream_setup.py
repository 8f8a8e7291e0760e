"""The connection wizard: the trigger form of this DAG adds, updates, tests or removes a
DropStream connection (store ↔ warehouse for one merchant). Configuration only; the tasks live
in ``dropstream.setup``. See docs/setup.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from adapters import PLATFORMS
from dropstream.registry import load_registry
from dropstream.setup import tasks
from dropstream.setup.form import setup_params

_merchants = sorted({spec.merchant for spec in load_registry().specs.values()})

with DAG(
    dag_id=tasks.DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # serialises the registry's read-modify-write
    is_paused_upon_creation=False,  # runs only when triggered: usable without unpausing first
    params=setup_params(_merchants, PLATFORMS),
    tags=["dropstream", "setup"],
    doc_md=__doc__,
    default_args={"owner": "dropstream", "retries": 0},
) as dag:

    def task(step: str, trigger_rule: str = "none_failed") -> PythonOperator:
        return PythonOperator(
            task_id=step, python_callable=getattr(tasks, step), trigger_rule=trigger_rule
        )

    receive, validate = task("receive_form", "all_success"), task("validate")
    # Both sides are tested even when the other fails, so one run reports every problem.
    checks = [task("test_warehouse"), task("test_store")]
    register, registry = task("register_connections"), task("update_registry")
    receive >> validate >> checks >> register >> registry >> task("report", "all_done")

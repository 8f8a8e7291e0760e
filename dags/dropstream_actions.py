"""Operator actions: release, cancel or resend an order, resend a whole order file, re-push a
shipment, enable or disable a connection (also from the DropStream order page). Configuration
only; the task lives in ``dropstream.action_tasks``. Each action is recorded in the ledger with
who triggered it and why, and doing it twice does nothing the second time. See docs/operations.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dropstream.action_tasks import action_params, perform_action
from dropstream.actions import DAG_ID
from dropstream.registry import load_registry

with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one action at a time: two operators never race on one order
    is_paused_upon_creation=False,  # runs only when triggered
    params=action_params(sorted(load_registry().specs)),
    tags=["dropstream", "actions"],
    doc_md=__doc__,
    default_args={"owner": "dropstream", "retries": 0},
) as dag:
    PythonOperator(task_id="perform_action", python_callable=perform_action)

"""Held orders and suspect inventory snapshots wait for a person here, not in the flows' DAGs
(whose max_active_runs=1 a waiting run would block). An orders run that holds orders, or an
inventory run that keeps a suspect snapshot, triggers a run of this DAG (REST API); its ask task
shows under Browse → Required Actions with the reasons and the answers (Release / Cancel / Keep
holding; Approve / Reject / Keep waiting), for all items or the ones chosen. The answer is
recorded as the operator action, with who answered; no answer in time changes nothing. One DAG
for the deployment: a run per review, many waiting at once. Configuration only; the tasks live
in ``dropstream.review_tasks``. See docs/operations.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.python import BranchPythonOperator, PythonOperator
from airflow.sdk import DAG

from dropstream.review_tasks import ReviewOperator, apply_answer, prepare_review, review_params
from dropstream.reviews import DAG_ID, KINDS

with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # A waiting run holds no worker slot, only a place in this count: room for many reviews.
    max_active_runs=64,
    is_paused_upon_creation=False,  # runs only when an orders or inventory run triggers it
    params=review_params(),
    tags=["dropstream", "review"],
    doc_md=__doc__,
    default_args={"owner": "dropstream", "retries": 0},
) as dag:
    prepare = BranchPythonOperator(task_id="prepare", python_callable=prepare_review)
    apply = PythonOperator(
        task_id="apply_answer",
        python_callable=apply_answer,
        trigger_rule="none_failed_min_one_success",
    )
    for kind in KINDS.values():
        prepare >> ReviewOperator(kind=kind) >> apply

"""Airflow's hooks into alerts: a task failing after its retries, and the orders deadline.

``on_task_failure`` is every DropStream task's ``on_failure_callback``: Airflow calls it once,
after the last retry (``on_retry_callback`` would be called per retry). ``orders_overdue`` is
the callback of the orders DAG's ``DeadlineAlert``: the scheduler queues it on the executor
when a run has not succeeded twice the flow's interval after its logical date. Neither ever
raises: an alert that cannot be sent is logged and retried by the next run's sweep.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from dropstream.alerts import incidents as said
from dropstream.alerts.sweep import Recipients, deliver
from dropstream.spec import ConnectionSpec, parse_dag_id

log = logging.getLogger("dropstream")


def on_task_failure(spec: ConnectionSpec, context: dict[str, Any]) -> None:
    """Open (once per failing flow) and send the 'failed after its retries' incident."""
    to = Recipients.of(spec)
    if not to.channels:
        return
    ti = context.get("ti")
    if ti is None:
        return
    from dropstream.ledger import Ledger

    _, flow = parse_dag_id(ti.dag_id) or (spec.name, "?")
    try:
        log_url = ti.log_url
    except Exception:  # noqa: BLE001 - a missing [api] base_url must not lose the alert
        log_url = f"(see task {ti.task_id} of run {ti.run_id} in Airflow)"
    incident = said.failed_flow(
        spec.name,
        flow,
        ti.task_id,
        _redacted(said.first_line(context.get("exception"))),
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        tries=int(getattr(ti, "try_number", 0) or 0),
        log_url=log_url,
    )
    now = datetime.now(UTC)
    ledger = Ledger()
    try:
        ledger.open_incidents(spec.name, [incident.row()], now, to.channels)
        deliver(to, ledger, spec.name, now)
    except Exception as exc:  # noqa: BLE001 - never mask the task's own failure
        log.warning("connection %s: failure alert not recorded or sent: %s", spec.name, exc)
    finally:
        ledger.close()


def _redacted(text: str) -> str:
    """``text`` with every secret the task process knows (Connection passwords, masked values)
    replaced by ``***``: a mail is not a task log, Airflow does not mask it by itself."""
    from airflow.sdk.log import redact

    return str(redact(text))


def orders_overdue(
    connection: str,
    merchant: str,
    emails: list[str],
    interval_seconds: int,
    apprise_tags: list[str] | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    """DeadlineAlert callback: the orders run of ``context['dag_run']`` is overdue.

    Runs on a worker (``SyncCallback``): it gets the DAG's kwargs, not the ConnectionSpec.
    """
    from dropstream.ledger import Ledger

    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    incident = said.overdue_orders(
        connection,
        dag_id=str(run.get("dag_id", f"dropstream__{connection}__orders")),
        run_id=str(run.get("dag_run_id") or run.get("run_id") or "?"),
        logical_date=str(run.get("logical_date") or "?"),
        deadline=str(deadline.get("deadline_time") or "?"),
        interval=timedelta(seconds=interval_seconds),
    )
    to = Recipients(connection, merchant, tuple(emails), tuple(apprise_tags or ()))
    now = datetime.now(UTC)
    ledger = Ledger()
    try:
        ledger.open_incidents(connection, [incident.row()], now, to.channels)
        deliver(to, ledger, connection, now)
    finally:
        ledger.close()

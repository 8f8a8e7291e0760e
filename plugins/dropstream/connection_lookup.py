"""Reading an Airflow Connection inside a task, without taking a slow api-server for a missing one.

A task reads Connections through the Task SDK, which asks the Execution API of the api-server.
When that request fails (the api-server busy past its timeout), every secrets backend has
failed, and the SDK says what it says of a Connection nobody created: ``The conn_id `x` isn't
defined``. DropStream fails a task whose Connection is missing without retries (an operator must
create it), so one slow answer would fail a run for good. ``look_up`` asks again before it
believes that, and the error it leads to says both things it can mean.
"""

from __future__ import annotations

from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

#: How many times a Connection said to be missing is looked up, and the pause between lookups.
LOOKUPS = 3
PAUSE_SECONDS = 5.0

#: Appended to "Connection X does not exist" messages.
OR_UNREADABLE = (
    " (or Airflow could not read it: the task's lookups through the api-server's Execution API "
    "failed; if the Connection exists, see the api-server's log)"
)


def _missing(exc: BaseException) -> bool:
    return type(exc).__name__ == "AirflowNotFoundException"


def look_up(conn_id: str) -> Any:
    """``BaseHook.get_connection(conn_id)``, looked up again (``LOOKUPS`` in all,
    ``PAUSE_SECONDS`` apart) while Airflow says it is not defined; re-raises Airflow's
    ``AirflowNotFoundException`` when every lookup says so."""
    from airflow.sdk import BaseHook  # lazy: DAG parsing and pure tests stay free of Airflow

    for attempt in Retrying(
        retry=retry_if_exception(_missing),
        stop=stop_after_attempt(LOOKUPS),
        wait=wait_fixed(PAUSE_SECONDS),
        reraise=True,
    ):
        with attempt:
            return BaseHook.get_connection(conn_id)
    raise AssertionError("unreachable: Retrying either returns or re-raises")

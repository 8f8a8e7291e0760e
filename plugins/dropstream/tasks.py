"""The Airflow edge of the flows: one callable per (flow, step), run by the factory's tasks.

It runs ``FLOWS[flow](ctx).<step>()`` over the task's run context (``dropstream.flows``), which
opens what the step uses and closes it after; then logs the step's summary, sweeps alerts, and
after the load writes the run's summary line and note and asks about held orders. Errors an
operator must fix (ConfigurationError) fail the task without retries; the rest retry.
"""

from __future__ import annotations

import logging
from typing import Any

from dropstream import reviews
from dropstream.errors import ConfigurationError
from dropstream.spec import ConnectionSpec

log = logging.getLogger("dropstream")


def run_step(flow: str, step_name: str, spec: ConnectionSpec, **context: Any) -> dict[str, Any]:
    """Run one step of one flow for one connection; return a small summary for XCom."""
    from airflow.sdk.exceptions import AirflowFailException

    from dropstream.flows import FLOWS, RunContext

    try:
        with RunContext.for_task(spec, context) as ctx:
            summary: dict[str, Any] = getattr(FLOWS[flow](ctx), step_name)()
    except ConfigurationError as exc:
        log.error("connection %s, %s %s: %s", spec.name, flow, step_name, exc)
        raise AirflowFailException(f"connection {spec.name!r}: {exc}") from exc
    _sweep_alerts(flow, step_name, spec)
    parts = ", ".join(f"{k}={_short(v)}" for k, v in summary.items())
    log.info("connection %s %s %s: %s", spec.name, flow, step_name, parts)
    if step_name == "load":
        log.info("%s", run_summary(spec, flow, context, summary))
        _note_the_run(flow, context, summary)
        _ask_for_review(flow, spec, context)
    return summary


def _sweep_alerts(flow: str, step_name: str, spec: ConnectionSpec) -> None:
    """Tell the connection's alert recipients about new trouble the ledger shows; never fail
    the step over it."""
    if not spec.alerts.wanted:
        return
    from dropstream.alerts.sweep import sweep
    from dropstream.flows import FLOWS, RunContext

    try:
        with RunContext.for_task(spec, {}) as ctx:
            found = FLOWS[flow](ctx).watched_folder()
            folder = (found.path, found.key) if found is not None else None
            sweep(spec, ctx.ledger, flow, step_name, ctx.now, folder=folder)
    except Exception as exc:  # noqa: BLE001 - the step's work is done; alerts retry next run
        log.warning("connection %s: alerts not swept (%s: %s)", spec.name, type(exc).__name__, exc)


def _ask_for_review(flow: str, spec: ConnectionSpec, context: dict[str, Any]) -> None:
    """Orders held, or suspect inventory snapshots kept (this run or before), that nobody was
    asked about: a Required Action in a ``dropstream_review`` run, so this run does not wait
    (``dropstream.review_tasks``)."""
    from dropstream.flows.context import pulled

    transformed = pulled(context, "transform")
    if flow == "orders" and transformed.get("held"):
        kind = reviews.HELD_ORDERS
    elif flow == "inventory" and transformed.get("suspect_snapshots"):
        kind = reviews.SUSPECT_SNAPSHOT
    else:
        return
    from dropstream.review_tasks import ask_for_review

    ask_for_review(spec, kind, str(context.get("run_id") or ""))


def _note_the_run(flow: str, context: dict[str, Any], loaded: dict[str, Any]) -> None:
    """Put the run's outcome in its note (the grid shows it); never fail the run over it.

    Notes go through the REST API (the Task SDK cannot set them), with the Airflow Connection
    ``dropstream_airflow_api`` the setup DAG also uses; without it the run keeps no note.
    """
    from dropstream.run_notes import run_note
    from dropstream.setup.api import AirflowAPI

    dag_run = context.get("dag_run")
    if context.get("ti") is None or dag_run is None:
        return
    note = run_note(flow, _run_counts(context, loaded))
    try:
        AirflowAPI.from_connection().set_note(dag_run.dag_id, dag_run.run_id, note)
    except Exception as exc:  # noqa: BLE001 - the run's work is done; the note is a courtesy
        log.warning("run note not set (%s: %s): %s", type(exc).__name__, exc, note)


def run_summary(
    spec: ConnectionSpec, flow: str, context: dict[str, Any], loaded: dict[str, Any]
) -> str:
    """One line for the whole run: counts by outcome from all three steps.

    For orders, what became of this run's own window's orders is told apart from the orders it
    published that other runs had fetched (runs of one connection can overlap).
    """
    counts = _run_counts(context, loaded)
    own = {k.removeprefix("own_"): counts.pop(k) for k in list(counts) if k.startswith("own_")}
    for_others = counts.pop("published_for_other_runs", None)
    shown = {
        k: (len(v) if isinstance(v, list) and k != "window" else v)
        for k, v in counts.items()
        if k not in {"until", "window"}
    }
    window = counts.get("window")
    where = f" window [{window[0]}, {window[1]})" if window else ""
    line = f"SUMMARY {flow} {spec.name}{where}: " + ", ".join(f"{k} {v}" for k, v in shown.items())
    if own:
        total = own.pop("orders")
        line += f"; this run's orders {total}: " + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in own.items()
        )
    if for_others is not None:
        line += f"; published for other runs {for_others}"
    return line


def _run_counts(context: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
    """The run's counts: the extract's and transform's summaries (XCom), then the load's."""
    from dropstream.flows.context import pulled

    return {**pulled(context, "extract"), **pulled(context, "transform"), **loaded}


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > 5:
        return f"[{', '.join(map(str, value[:5]))}, … {len(value) - 5} more]"
    return str(value)

"""The Airflow edge of the flows: one callable per (flow, step), run by the factory's tasks.

It builds the step's collaborators (ledger, adapter, transport, format) from the spec, works
out the run's window, calls the pure-ish flow function and logs a one-line summary. Errors an
operator must fix (ConfigurationError) fail the task without retries; the rest retry.
"""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dropstream import reviews
from dropstream.errors import ConfigurationError
from dropstream.spec import ConnectionSpec

if TYPE_CHECKING:
    from dropstream.flows.common import SharedFolder
    from dropstream.sharing import Kind

log = logging.getLogger("dropstream")


def run_window(
    spec: ConnectionSpec, context: dict[str, Any], watermark: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """``(since, until)`` for this run.

    A run with a data interval (scheduled, backfill, or manual with a logical date) owns
    ``[data_interval_start, data_interval_end)``. A run whose interval is empty or missing
    catches up from the watermark (or the connection's start date) to now.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is not None and end is not None and start < end:
        return _utc(start), _utc(end)
    since = watermark or spec.start_date
    return since, max(now, since)


def _utc(value: datetime) -> datetime:
    """A plain stdlib UTC datetime (pendulum's loses its tzinfo in arithmetic with timedelta)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=UTC,
    )


def run_step(flow: str, step_name: str, spec: ConnectionSpec, **context: Any) -> dict[str, Any]:
    """Run one step of one flow for one connection; return a small summary for XCom."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        summary = _run(flow, step_name, spec, context)
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
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        folder = None
        if flow in {"inventory", "tracking"}:
            found = shared_folder(spec, "inventory" if flow == "inventory" else "shipments")
            folder = (found.path, found.key)
        sweep(spec, ledger, flow, step_name, datetime.now(UTC), folder=folder)
    except Exception as exc:  # noqa: BLE001 - the step's work is done; alerts retry next run
        log.warning("connection %s: alerts not swept (%s: %s)", spec.name, type(exc).__name__, exc)
    finally:
        ledger.close()


def _ask_for_review(flow: str, spec: ConnectionSpec, context: dict[str, Any]) -> None:
    """Orders held, or suspect inventory snapshots kept (this run or before), that nobody was
    asked about: a Required Action in a ``dropstream_review`` run, so this run does not wait
    (``dropstream.review_tasks``)."""
    ti = context.get("ti")
    transformed = (ti.xcom_pull(task_ids="transform") if ti is not None else None) or {}
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

    ti, dag_run = context.get("ti"), context.get("dag_run")
    if ti is None or dag_run is None:
        return
    counts: dict[str, Any] = {}
    for step_name in ("extract", "transform"):
        counts.update(ti.xcom_pull(task_ids=step_name) or {})
    counts.update(loaded)
    note = run_note(flow, counts)
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
    ti = context.get("ti")
    counts: dict[str, Any] = {}
    for step_name in ("extract", "transform"):
        pulled = ti.xcom_pull(task_ids=step_name) if ti is not None else None
        counts.update(pulled or {})
    counts.update(loaded)
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


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > 5:
        return f"[{', '.join(map(str, value[:5]))}, … {len(value) - 5} more]"
    return str(value)


def _run(
    flow: str, step_name: str, spec: ConnectionSpec, context: dict[str, Any]
) -> dict[str, Any]:
    from dropstream.flows import inventory, orders, tracking
    from dropstream.flows.common import Step
    from dropstream.formats import get_format
    from dropstream.ledger import Ledger
    from dropstream.stores import get_adapter
    from dropstream.transports import get_transport

    now = datetime.now(UTC)
    ledger = Ledger()
    run_id = str(context.get("run_id") or "")
    step = Step(spec=spec, ledger=ledger, now=now, log=log, run=run_id)
    fmt_ref = spec.warehouse.format
    file_format = get_format(fmt_ref.name, fmt_ref.options).for_run(
        now=now,
        next_control_number=lambda name: ledger.next_counter(spec.name, f"{fmt_ref.name}_{name}"),
    )

    def adapter():  # type: ignore[no-untyped-def]
        return get_adapter(
            spec.store.platform, spec.store.conn_id, spec.store.options, connection_name=spec.name
        )

    def transport():  # type: ignore[no-untyped-def]
        return get_transport(spec.warehouse.protocol, spec.warehouse.conn_id)

    try:
        if flow == "orders":
            if step_name == "extract":
                refuse_prefix_conflicts(spec)
                watermark = ledger.watermark(spec.name, "orders")
                since, until = run_window(spec, context, watermark, now)
                # The first run (no watermark yet) also imports the open backlog.
                backlog = spec.start_date if watermark is None else None
                with closing(adapter()) as a:
                    found = orders.extract(step, a, since, until, backlog_since=backlog)
                    return {**found, "until": until.isoformat()}
            if step_name == "transform":
                return orders.transform(step, file_format)
            ti = context.get("ti")
            extracted = ti.xcom_pull(task_ids="extract") if ti is not None else None
            window_end = datetime.fromisoformat(extracted["until"]) if extracted else None
            with transport() as t:
                return orders.load(step, t, file_format, window_end)
        module = {"inventory": inventory, "tracking": tracking}[flow]
        folder = shared_folder(spec, "inventory" if flow == "inventory" else "shipments")
        if step_name == "extract":
            with transport() as t:
                return module.extract(step, t, file_format, folder)
        if step_name == "transform":
            return (
                tracking.transform(step, folder)
                if flow == "tracking"
                else inventory.transform(step)
            )
        with transport() as t, closing(adapter()) as a:
            return module.load(step, a, t, folder)
    finally:
        ledger.close()


def refuse_prefix_conflicts(spec: ConnectionSpec) -> None:
    """ConfigurationError when another connection shares this one's orders or shipments folder
    with the same order-number prefix: its orders could not be told apart at the warehouse."""
    from dropstream.registry import specs_using_folder
    from dropstream.sharing import PREFIXED_KINDS, prefix_conflicts
    from dropstream.transports import AccountResolver

    prefix = spec.rules.order_number_prefix
    same = {
        other.name: other
        for kind in PREFIXED_KINDS
        for other in specs_using_folder(spec, kind)[1:]
        if other.rules.order_number_prefix == prefix
    }
    if same:
        problems = prefix_conflicts(spec, same.values(), AccountResolver())
        if problems:
            raise ConfigurationError("; ".join(dict.fromkeys(problems)))


def shared_folder(spec: ConnectionSpec, kind: Kind) -> SharedFolder:
    """The connection's ``kind`` folder and who shares it (reads the registry: fails closed)."""
    from dropstream.flows.common import SharedFolder
    from dropstream.registry import specs_using_folder
    from dropstream.sharing import folder, group_key, sharing
    from dropstream.transports import AccountResolver

    path = folder(spec, kind)
    candidates = specs_using_folder(spec, kind)
    if len(candidates) == 1:
        return SharedFolder(path, spec.name, (spec.name,))
    account_of = AccountResolver()
    members = sharing(spec, kind, candidates, account_of)
    guards = tuple(
        (c.name, c.rules.zero_out_guard_pct) for c in candidates if c.name in set(members)
    )
    return SharedFolder(
        path, group_key(spec, kind, members, account_of(spec)), tuple(members), guards
    )

"""Operator actions, as the ``dropstream_actions`` DAG's trigger form asks for them.

- ``release``: a held order goes in the next order file, as it is: the connection's rules are
  applied again except the holds a person may lift (``rules.hold_countries``,
  ``rules.ship_countries``, ``rules.exclude_tags``). An order held for
  something the warehouse would reject (no ship method, no SKU, a field the format cannot hold)
  cannot be released: the error says which rule or field to fix (the next run then sends it).
- ``resend``: a published (or shipped) order goes to the warehouse again, in a new order file
  of its own, published at once with the same exactly-once protocol as the orders flow and
  recorded as a resend (never a silent duplicate). Asked again with the same why, nothing.
- ``resend_file``: every order of a published order file that is still only published (not
  shipped, no cancel asked, none in a cancel file) goes to the warehouse again in one new file,
  recorded as a resend of that file on each order. Asked again with the same why, nothing.
- ``repush``: a shipment the store refused, or one it lost, is pushed again by the next
  tracking run (target: ``<order number>|<tracking number>``, or an order: all its shipments).
- ``cancel``: the order is never sent. Already published, the warehouse is sent a cancel file
  at once (the orders flow's own ``publish_cancellations``, under the orders lease, exactly
  once); already shipped, the request is recorded and nothing is sent (arrange a return).
- ``enable`` / ``disable``: the connection's three DAGs unpaused / paused, through the REST API.
- ``approve_snapshot`` / ``reject_snapshot``: a suspect inventory snapshot (one the zero-out guard
  held back, ``rules.zero_out_guard_pct``) is pushed on the connection's next inventory run, or
  dropped for good. ``target`` is its file name; empty when only one waits.

Every change is written to the ledger with who asked (the run's triggering user), when and why,
and shows in the order's (or connection's) timeline. Each action is idempotent: asked again, it
finds nothing to do and says so, and records nothing.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dropstream.errors import ConfigurationError
from dropstream.rules.fulfillment import Decision, decide
from dropstream.spec import ConnectionSpec
from dropstream.web.summary import FLOWS, search_numbers

if TYPE_CHECKING:
    from dropstream.formats.base import FileFormat
    from dropstream.ledger import Ledger
    from dropstream.models import Order
    from dropstream.setup.api import AirflowAPI

DAG_ID = "dropstream_actions"
#: Action -> what the form shows.
ACTIONS = {
    "release": "Release a held order",
    "cancel": "Cancel an order",
    "resend": "Resend a published order (in a new file)",
    "resend_file": "Resend a whole order file (its orders in a new file)",
    "repush": "Re-push a shipment to the store (in the next tracking run)",
    "enable": "Enable the connection (its three DAGs)",
    "disable": "Disable the connection (its three DAGs)",
    "approve_snapshot": "Approve a suspect inventory snapshot (push it)",
    "reject_snapshot": "Reject a suspect inventory snapshot (never push it)",
}
ORDER_ACTIONS = ("release", "cancel", "resend")
#: Actions whose target is a file name or a shipment rather than an order.
TARGET_ACTIONS = (*ORDER_ACTIONS, "resend_file", "repush")
SNAPSHOT_ACTIONS = ("approve_snapshot", "reject_snapshot")


class ActionRequest(BaseModel):
    """The trigger form's input (untrusted)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    action: Literal[
        "release",
        "cancel",
        "resend",
        "resend_file",
        "repush",
        "enable",
        "disable",
        "approve_snapshot",
        "reject_snapshot",
    ]
    connection: str = Field(min_length=1)
    target: str | None = None
    reason: str = Field(min_length=1)  # the form shows it as optional; the action needs one

    @model_validator(mode="after")
    def _order_needs_target(self) -> ActionRequest:
        if self.action in TARGET_ACTIONS and not self.target:
            what = {"resend_file": "the order file's name", "repush": "the shipment"}.get(
                self.action, "the order (its number or id)"
            )
            raise ValueError(f"{self.action} needs {what} in 'target'")
        return self


@dataclass(frozen=True, slots=True)
class Outcome:
    changed: bool
    message: str


def parse_request(conf: dict[str, Any]) -> ActionRequest:
    try:
        return ActionRequest.model_validate(conf)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(
            f"{DAG_ID}: the form is not valid ({problems}); trigger again with it fixed"
        ) from None


def find_order(ledger: Ledger, spec: ConnectionSpec, target: str) -> str:
    """The order id ``target`` names: an order id, or a number with or without ``#``/prefix."""
    if ledger.order_row(spec.name, target) is not None:
        return target
    found, total = ledger.find_orders(
        spec.name, numbers=search_numbers(target, spec.rules.order_number_prefix), limit=2
    )
    if total == 1:
        return str(found[0]["order_id"])
    raise ConfigurationError(
        f"connection {spec.name!r}: "
        + (
            f"{total} orders match {target!r}: give the order id instead"
            if total
            else f"no order {target!r} in the ledger (was it fetched yet? search it on the "
            "DropStream Orders page)"
        )
    )


#: The holds a person may lift by releasing an order; every other rule is the warehouse's.
LIFTABLE: dict[str, Any] = {"hold_countries": [], "ship_countries": [], "exclude_tags": []}


def _as_released(
    spec: ConnectionSpec, file_format: FileFormat, order: Order
) -> tuple[Decision, str | None]:
    """The rules applied to ``order`` without the holds a person may lift, and why it still
    cannot go (None: it can)."""
    decision = decide(
        order,
        spec.rules.model_copy(update=LIFTABLE),
        not_before=spec.start_date,
        address_limits=file_format.address_limits,
    )
    problems = file_format.order_problems(decision.order) if decision.state == "ready" else []
    if decision.state != "ready" or problems:
        return decision, decision.reason or "; ".join(problems)
    return decision, None


def release_blocker(spec: ConnectionSpec, file_format: FileFormat, order: Order) -> str | None:
    """Why a held ``order`` cannot be released as it is (a rule the warehouse needs, not a hold
    a person may lift: ``rules.hold_countries``, ``ship_countries``, ``exclude_tags``); None
    when it can."""
    return _as_released(spec, file_format, order)[1]


def release(
    ledger: Ledger,
    spec: ConnectionSpec,
    file_format: FileFormat,
    order_id: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    held = ledger.held_order(spec.name, order_id)
    assert held is not None  # find_order found it
    order, state = held
    number = (ledger.order_row(spec.name, order_id) or {}).get("number", order.number)
    if state != "held":
        return Outcome(False, f"order {number} is {state}, not held: nothing to release")
    decision, why = _as_released(spec, file_format, order)
    if why is not None:
        raise ConfigurationError(
            f"connection {spec.name!r}: order {number} cannot be released as it is: {why}. "
            "Fix that in the connection's rules (dropstream_setup) and the next orders run "
            "sends it; it stays held until then"
        )
    if not ledger.release_order(
        spec.name, order_id, decision.order, now, reason=reason, actor=actor, run=run
    ):
        return Outcome(False, f"order {number} was no longer held: nothing to release")
    return Outcome(True, f"order {number} released: it goes in the next orders run's file")


def cancel(
    ledger: Ledger,
    spec: ConnectionSpec,
    file_format: FileFormat,
    transport: Callable[[], Any],
    order_id: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    """Cancel an order; one the warehouse has gets a cancel file now (``transport()`` opens the
    warehouse). Asked again, nothing: the cancel file is sent once."""
    from dropstream.flows.context import RunContext
    from dropstream.flows.orders import FLOW, finish_unfinished, publish_cancellations

    before, changed = ledger.cancel_order(
        spec.name, order_id, now, reason=reason, actor=actor, run=run
    )
    row = ledger.order_row(spec.name, order_id) or {}
    number = row.get("number", order_id)
    if before in ("received", "held", "skipped", "ready"):
        if changed:
            return Outcome(True, f"order {number} cancelled: it will never be sent")
    elif row.get("state") in ("in_file", "published") and row.get("cancel_requested_at"):
        # Sent, its cancellation not yet (asked now, or an earlier attempt stopped before it).
        ctx = RunContext(spec=spec, ledger=ledger, now=now, run=run)
        with transport() as t, ledger.lease(spec.name, FLOW, run=run) as lease:
            finish_unfinished(ctx, t, lease)  # its order file first, if still unfinished
            sent = publish_cancellations(ctx, t, file_format, lease)
        where = spec.warehouse.paths.orders
        return Outcome(
            True,
            f"order {number} was already sent ({before}): the warehouse was told to cancel it "
            f"in {', '.join(sent)} ({where})",
        )
    elif changed:  # shipped: too late for the warehouse
        return Outcome(
            True,
            f"order {number} has already shipped: the cancel is recorded, no cancellation is "
            "sent to the warehouse; arrange a return with the customer",
        )
    state = row.get("state", before)
    done = f" in {row['cancel_file']}" if row.get("cancel_file") else ""
    return Outcome(
        False, f"order {number} is already {state}{done} (cancel recorded before): nothing to do"
    )


def set_enabled(
    ledger: Ledger,
    api: AirflowAPI,
    spec: ConnectionSpec,
    enabled: bool,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    """Unpause (or pause) all three DAGs; only those not already so."""
    word = "enabled" if enabled else "disabled"
    dag_ids = [spec.dag_id(flow) for flow in FLOWS]
    paused = {dag_id: api.dag_paused(dag_id) for dag_id in dag_ids}
    missing = [d for d, p in paused.items() if p is None]
    if missing:
        raise ConfigurationError(
            f"connection {spec.name!r}: Airflow does not know DAG(s) {', '.join(missing)} yet "
            "(not parsed, or the generator reports an import error): check Browse → DAG "
            "import errors, then run this again"
        )
    todo = [d for d, p in paused.items() if p is enabled]
    for dag_id in todo:
        api.set_dag_paused(dag_id, not enabled)
    if not todo:
        return Outcome(False, f"connection {spec.name} is already {word}: nothing to do")
    ledger.record_connection_event(
        spec.name, word, now, f"{reason} ({', '.join(todo)})", actor=actor, run=run
    )
    return Outcome(True, f"connection {spec.name} {word}: {', '.join(todo)}")


def resend(
    ledger: Ledger,
    spec: ConnectionSpec,
    file_format: FileFormat,
    transport: Callable[[], Any],
    order_id: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    """Publish the order again in a new file of its own (``transport()`` opens the warehouse)."""
    stored = ledger.held_order(spec.name, order_id)
    assert stored is not None  # find_order found it
    order, state = stored  # the order as the warehouse saw it (its number prefixed)
    row = ledger.order_row(spec.name, order_id) or {}
    number = row.get("number", order.number)
    if state not in ("published", "shipped"):
        raise ConfigurationError(
            f"connection {spec.name!r}: order {number} is {state}: only a published or "
            "shipped order can be resent (a held one is released, a ready one goes in the next run)"
        )
    if row.get("cancel_requested_at"):
        raise ConfigurationError(
            f"connection {spec.name!r}: order {number} was cancelled after it was sent "
            f"({row.get('cancel_reason') or 'no reason given'}): a cancelled order is not resent"
        )
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", spec.name)
    name = file_format.order_file_name(f"{slug}-resend-{uuid.uuid4().hex[:8]}", now)
    buffer = io.BytesIO()
    file_format.write_orders([order], buffer, file_name=name)  # as the warehouse saw it
    folder = spec.warehouse.paths.orders
    if not ledger.create_resend_file(
        spec.name,
        folder,
        name,
        buffer.getvalue(),
        order_id,
        now,
        reason=reason,
        actor=actor,
        run=run,
    ):
        return Outcome(False, f"order {number} was already resent for {reason!r}: nothing to do")
    _publish_now(ledger, spec, transport, name, now, run)
    return Outcome(True, f"order {number} resent in {name} ({folder})")


def _publish_now(
    ledger: Ledger,
    spec: ConnectionSpec,
    transport: Callable[[], Any],
    name: str,
    now: datetime,
    run: str,
) -> None:
    """Publish the file just staged, with the orders flow's exactly-once protocol (another
    holder of the orders lease, a run or a cancel, may have published it first: fine)."""
    from dropstream.flows.context import RunContext
    from dropstream.flows.orders import FLOW, finish_unfinished

    ctx = RunContext(spec=spec, ledger=ledger, now=now, run=run)
    with transport() as t, ledger.lease(spec.name, FLOW, run=run) as lease:
        published: dict[str, int] = finish_unfinished(ctx, t, lease)
    if name not in published and ledger.file_orders(spec.name, name)[0] != "published":
        # finish_unfinished raises first; this says so if it ever did not
        raise ConfigurationError(f"connection {spec.name!r}: {name} was not published")


def resend_file(
    ledger: Ledger,
    spec: ConnectionSpec,
    file_format: FileFormat,
    transport: Callable[[], Any],
    file_name: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    """Publish the still-unshipped orders of ``file_name`` again, in a new file of their own."""
    state, again = ledger.file_orders(spec.name, file_name)
    if state != "published":
        raise ConfigurationError(
            f"connection {spec.name!r}: "
            + (
                f"no order file {file_name!r} (see the connection's Files page for the names)"
                if state is None
                else f"order file {file_name} is {state}, not published: the next orders run "
                "finishes publishing it"
            )
        )
    if not again:
        return Outcome(
            False,
            f"every order of {file_name} is shipped or cancelled: nothing to resend "
            "(resend one order by its number if it must go again)",
        )
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", spec.name)
    name = file_format.order_file_name(f"{slug}-resend-{uuid.uuid4().hex[:8]}", now)
    buffer = io.BytesIO()
    file_format.write_orders(again, buffer, file_name=name)  # as the warehouse saw them
    folder = spec.warehouse.paths.orders
    ids = [o.order_id for o in again]
    if not ledger.create_file_resend(
        spec.name,
        folder,
        name,
        buffer.getvalue(),
        file_name,
        ids,
        now,
        reason=reason,
        actor=actor,
        run=run,
    ):
        return Outcome(False, f"{file_name} was already resent for {reason!r}: nothing to do")
    _publish_now(ledger, spec, transport, name, now, run)
    return Outcome(True, f"{len(ids)} order(s) of {file_name} resent in {name} ({folder})")


def repush(
    ledger: Ledger,
    spec: ConnectionSpec,
    target: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    """Queue the shipment(s) ``target`` names for the next tracking run to push again."""
    from dropstream.ledger.resends import REPUSHABLE

    found = ledger.shipments_of(spec.name, target)
    if not found:
        raise ConfigurationError(
            f"connection {spec.name!r}: no shipment {target!r} (give <order number>|<tracking "
            "number>, or the order's number, as the order's timeline shows them)"
        )
    queued = [
        s.key
        for s, state in found
        if state in REPUSHABLE
        and ledger.requeue_shipment(spec.name, s, now, reason=reason, actor=actor, run=run)
    ]
    if not queued:
        states = ", ".join(f"{s.key} {state}" for s, state in found)
        return Outcome(False, f"nothing to re-push ({states}): it goes with the next tracking run")
    return Outcome(
        True,
        f"shipment(s) {', '.join(queued)} queued: the next tracking run of {spec.name} "
        "pushes them to the store",
    )


def decide_snapshot(
    ledger: Ledger,
    spec: ConnectionSpec,
    target: str | None,
    approve: bool,
    *,
    reason: str,
    actor: str,
    now: datetime,
    run: str = "",
) -> Outcome:
    """Approve (push on the next inventory run) or reject a suspect inventory snapshot."""
    waiting = [s["source_file"] for s in ledger.suspect_snapshots(spec.name)]
    if not target:
        if not waiting:
            return Outcome(False, f"no suspect inventory snapshot waits for {spec.name}: "
                           "nothing to do")  # fmt: skip
        if len(waiting) > 1:
            raise ConfigurationError(
                f"connection {spec.name!r}: {len(waiting)} suspect snapshots wait "
                f"({', '.join(waiting)}): name the file in 'target'"
            )
        target = waiting[0]
    try:
        before, changed = ledger.decide_snapshot(
            spec.name,
            target,
            "approve" if approve else "reject",
            now,
            actor=actor,
            note=reason,
            run=run,
        )
    except KeyError:
        listed = ", ".join(waiting) if waiting else "none waits"
        raise ConfigurationError(
            f"connection {spec.name!r}: no suspect inventory snapshot from {target!r} "
            f"(waiting: {listed})"
        ) from None
    if not changed:
        return Outcome(False, f"snapshot {target} is already {before}: nothing to do")
    if approve:
        return Outcome(
            True, f"snapshot {target} approved: the next inventory run pushes its quantities"
        )
    return Outcome(True, f"snapshot {target} rejected: its quantities are never pushed")

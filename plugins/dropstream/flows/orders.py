"""Orders: store -> warehouse, every 15 minutes.

extract: fetch the window's paid, unfulfilled orders and record the new ones (``received``);
on the connection's first run (no watermark yet) also every open, paid, unfulfilled order
created since its ``start_date`` (the backlog);
transform: apply the connection's rules (``ready`` / ``held`` / ``skipped``); a ready order
carries the number the warehouse will see (``rules.order_number_prefix`` + the store's);
load: put every ready order in one uniquely named file and publish it exactly once; then tell
the warehouse of orders cancelled in the store after they were sent, in one cancel file, with
the same protocol (a cancel file is a ``ds_files`` row of kind ``cancel``).

Cancellations and changes: the extract also asks the store for orders cancelled in the window
(``fetch_cancellations``): one not sent yet becomes ``cancelled`` and is never sent; one sent
gets a cancel request, which the load publishes (``published`` -> ``cancelling`` ->
``cancel_sent``). A sent order fetched again with other lines or ship-to is recorded
``changed_after_send`` and not sent again (``ledger/changes.py``).

Exactly once, through crashes: the file and its orders are recorded together (``staged``)
before upload; the file is uploaded under a temporary name; the ledger then says
``committing``; the rename makes the final name appear whole; the ledger then says
``published``. A retry finishes unfinished files first: ``staged`` is uploaded again;
``committing`` is renamed if the temporary file is still there, and otherwise is already
renamed (only the rename removes it), so it is just marked.

Exactly once, across concurrent runs (a backfill beside the scheduled run): the load runs
under the connection's orders lease, so one run at a time acts on the unfinished files; every
state change names the state it expects and fails if another run moved it (``published`` never
goes back). A temporary file left beside an already-present final name (a duplicate upload
from before) is compared with the ledger's copy and removed: the connection heals, it does not
wedge.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from dropstream.errors import ConfigurationError, NotFoundError, TargetExistsError
from dropstream.flows.common import Flow, Summary
from dropstream.flows.context import RunContext, refuse_prefix_conflicts
from dropstream.formats.base import FileFormat
from dropstream.ledger import Lease
from dropstream.rules.fulfillment import Decision, decide
from dropstream.stores import StoreAdapter
from dropstream.transports.base import Transport, join, staging_name

FLOW = "orders"
#: Each window also looks this far back: a late-indexed order is still found; the ledger dedupes.
OVERLAP = timedelta(minutes=2)


def extract(
    ctx: RunContext,
    adapter: StoreAdapter,
    since: datetime,
    until: datetime,
    *,
    backlog_since: datetime | None = None,
) -> dict[str, Any]:
    """Fetch orders updated in ``[since - OVERLAP, until)`` and record the ones not seen before.

    With ``backlog_since`` (the first run), also every open order created since then.
    """
    fetched = list(adapter.fetch_orders(since - OVERLAP, until))
    backlog = list(adapter.fetch_open_orders(backlog_since)) if backlog_since else []
    new = ctx.ledger.record_received(ctx.name, fetched + backlog, ctx.now, ctx.run)
    counts: dict[str, Any] = {
        "window": [since.isoformat(), until.isoformat()],
        "fetched": len(fetched),
    }
    if backlog_since is not None:
        counts["backlog"] = len(backlog)
    # After the orders: an order fetched and cancelled in the same window ends up cancelled.
    if adapter.reports_cancellations:
        cancelled = list(adapter.fetch_cancellations(since - OVERLAP, until))
        outcome = ctx.ledger.record_cancellations(ctx.name, cancelled, ctx.now, ctx.run)
        counts["cancelled_before_sending"] = outcome["cancelled"]
        counts["cancelled_after_sending"] = outcome["cancel_after_send"]
        if outcome["cancel_after_send"]:
            ctx.log.warning(
                "connection %s: %d order(s) cancelled in the store after they were sent; "
                "the load step sends the warehouse a cancel file",
                ctx.name,
                outcome["cancel_after_send"],
            )
    else:
        ctx.log.warning(
            "connection %s: %s stores do not report cancellations to DropStream yet; cancel "
            "orders with the dropstream_actions DAG (action cancel)",
            ctx.name,
            adapter.platform,
        )
    return {**counts, "new": new}


def transform(ctx: RunContext, file_format: FileFormat) -> dict[str, Any]:
    """Decide ready / held / skipped for every received or held order.

    An order younger than ``rules.hold_minutes`` is left as it is (``received``): it is in the
    ledger, so a later run decides it again, whichever windows that run fetches.
    """
    counts: dict[str, Any] = {"ready": 0, "held": 0, "skipped": 0}
    reasons: dict[str, int] = {}  # why orders were held or skipped, for the run's note
    changes = []
    for state in ("received", "held"):
        for order in ctx.ledger.orders_in_state(ctx.name, state):
            decision = decide(
                order,
                ctx.spec.rules,
                not_before=ctx.spec.start_date,
                now=ctx.now,
                address_limits=file_format.address_limits,
            )
            if decision.state == "waiting":
                counts["waiting"] = counts.get("waiting", 0) + 1
                continue
            problems = (
                file_format.order_problems(decision.order) if decision.state == "ready" else []
            )
            if problems:
                reason = f"the {file_format.name} file cannot hold it: {'; '.join(problems)}"
                decision = Decision("held", reason, order)
            if decision.state == "held" and state == "held":
                counts["held"] += 1
                reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
                continue
            changes.append((order.order_id, decision.state, decision.reason, decision.order))
            counts[decision.state] += 1
            if decision.state != "ready":
                reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
                ctx.log.warning(
                    "connection %s: order %s %s: %s",
                    ctx.name,
                    order.number,
                    decision.state,
                    decision.reason,
                )
    ctx.ledger.set_order_states(
        ctx.name, changes, ctx.now, from_states=("received", "held"), run=ctx.run
    )
    return {**counts, "reasons": reasons}


def finish_unfinished(
    ctx: RunContext,
    transport: Transport,
    lease: Lease,
    *,
    cancel_files: dict[str, int] | None = None,
) -> dict[str, int]:
    """Bring every file recorded but not yet published to ``published``, without duplicating it.

    Returns ``{file name: orders published}``; cancel files go to ``cancel_files`` instead
    (``{file name: cancellations sent}``) when it is given. Only the lease holder may call this.
    """
    finished: dict[str, int] = {}
    for row in ctx.ledger.unfinished_files(ctx.name):
        name, folder = row["file_name"], row["folder"]
        if row["state"] == "staged":  # the upload may be partial: upload it (again), whole
            lease.confirm()
            transport.stage(folder, name, row["content"])
            ctx.ledger.mark_file_committing(ctx.name, name)
        # committing: the temporary file present means not yet renamed; gone means renamed.
        if transport.exists(join(folder, staging_name(name))):
            lease.confirm()
            try:
                transport.commit(folder, name)
            except TargetExistsError:
                _heal_twice_uploaded(ctx, transport, row)
        done = ctx.ledger.mark_file_published(ctx.name, name, ctx.now, run=ctx.run)
        if cancel_files is not None and row.get("kind") == "cancel":
            cancel_files[name] = done
        else:
            finished[name] = done
    return finished


def _heal_twice_uploaded(ctx: RunContext, transport: Transport, row: dict[str, Any]) -> None:
    """The final name is there beside a temporary copy: the rename happened, the copy is stale.

    Only when the final file holds exactly what the ledger sent; anything else is a name
    collision a person must look at.
    """
    name, folder = row["file_name"], row["folder"]
    try:
        found = hashlib.sha256(transport.read(join(folder, name))).hexdigest()
    except NotFoundError:  # taken by the warehouse just now: it was there, so it was renamed
        found = row["sha256"]
    if found != row["sha256"]:
        raise ConfigurationError(
            f"connection {ctx.name!r}: {join(folder, name)} on the warehouse is not the order "
            f"file this connection staged (sha256 {found[:12]}… vs {row['sha256'][:12]}…); the "
            f"upload waits at {join(folder, staging_name(name))}. Ask the warehouse who wrote "
            "that file; rename or remove it, then clear the task to publish again"
        )
    transport.discard_staged(folder, name)
    ctx.log.warning(
        "connection %s: %s was already published; removed the stale temporary copy %s",
        ctx.name,
        name,
        staging_name(name),
    )


def load(
    ctx: RunContext, transport: Transport, file_format: FileFormat, until: datetime | None
) -> dict[str, Any]:
    """Publish all ready orders in one file; then advance the watermark to ``until``.

    Runs under the connection's orders lease: a concurrent run waits for it.
    """
    cancel_files: dict[str, int] = {}
    with ctx.ledger.lease(ctx.name, FLOW, run=ctx.run) as lease:
        finished = finish_unfinished(ctx, transport, lease, cancel_files=cancel_files)
        recovered = list(finished) + list(cancel_files)
        ready = ctx.ledger.orders_in_state(ctx.name, "ready")
        if ready:
            folder = ctx.spec.warehouse.paths.orders
            name = file_format.order_file_name(_batch_id(ctx), ctx.now)
            buffer = io.BytesIO()
            file_format.write_orders(ready, buffer, file_name=name)
            ctx.ledger.create_order_file(
                ctx.name,
                folder,
                name,
                buffer.getvalue(),
                [o.order_id for o in ready],
                ctx.now,
                run=ctx.run,
            )
            finished.update(finish_unfinished(ctx, transport, lease, cancel_files=cancel_files))
        cancel_files.update(publish_cancellations(ctx, transport, file_format, lease))
        if until is not None:
            ctx.ledger.advance_watermark(ctx.name, FLOW, until)
    summary: dict[str, Any] = {
        "files": list(finished),
        "orders_published": sum(finished.values()),
        "recovered_files": len(recovered),
    }
    if cancel_files:
        summary["cancel_files"] = list(cancel_files)
        summary["cancellations_sent"] = sum(cancel_files.values())
    if ctx.run:
        summary.update(ctx.ledger.run_order_counts(ctx.name, ctx.run, list(finished)))
    return summary


def publish_cancellations(
    ctx: RunContext, transport: Transport, file_format: FileFormat, lease: Lease
) -> dict[str, int]:
    """Tell the warehouse of every sent order cancelled since: one cancel file, published
    exactly once like an order file. Returns ``{cancel file: cancellations sent}``.

    Only the lease holder may call this, after ``finish_unfinished``: every order file is
    published by then, so a cancellation never reaches the warehouse before its order.
    """
    to_cancel = ctx.ledger.orders_to_cancel(ctx.name)
    if not to_cancel:
        return {}
    folder = ctx.spec.warehouse.paths.orders
    name = file_format.cancel_file_name(_batch_id(ctx), ctx.now)
    buffer = io.BytesIO()
    file_format.write_cancellations([order for order, _ in to_cancel], buffer, file_name=name)
    ctx.ledger.create_cancel_file(
        ctx.name,
        folder,
        name,
        buffer.getvalue(),
        [order.order_id for order, _ in to_cancel],
        ctx.now,
        run=ctx.run,
    )
    published: dict[str, int] = {}
    finish_unfinished(ctx, transport, lease, cancel_files=published)
    if name not in published:  # finish_unfinished raises first; this says so if it ever did not
        raise ConfigurationError(f"connection {ctx.name!r}: cancel file {name} was not published")
    return published


def _batch_id(ctx: RunContext) -> str:
    """Unique, file-name safe batch id: the connection and a random suffix."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", ctx.name)
    return f"{slug}-{uuid.uuid4().hex[:8]}"


class OrdersFlow(Flow):
    """Orders, store -> warehouse (the module's docstring)."""

    name = FLOW

    def extract(self) -> Summary:
        ctx = self.ctx
        refuse_prefix_conflicts(ctx.spec)
        since, until, backlog = ctx.window
        found = extract(ctx, ctx.adapter, since, until, backlog_since=backlog)
        return {**found, "until": until.isoformat()}

    def transform(self) -> Summary:
        return transform(self.ctx, self.ctx.file_format)

    def load(self) -> Summary:
        """Publish, then advance the watermark to the end of the window this run's extract
        fetched (its XCom ``until``)."""
        extracted = self.ctx.pulled("extract")
        until = datetime.fromisoformat(extracted["until"]) if extracted else None
        return load(self.ctx, self.ctx.transport, self.ctx.file_format, until)

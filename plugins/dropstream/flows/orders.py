"""Orders: store -> warehouse, every 15 minutes.

extract: fetch the window's paid, unfulfilled orders and record the new ones (``received``);
transform: apply the connection's rules (``ready`` / ``held`` / ``skipped``);
load: put every ready order in one uniquely named file and publish it exactly once.

Exactly once: the file and its orders are recorded together (``staged``) before upload; the
file is uploaded under a temporary name; the ledger then says ``committing``; the rename makes
the final name appear whole; the ledger then says ``published``. A retry finishes unfinished
files first: ``staged`` is uploaded again; ``committing`` is renamed if the temporary file is
still there, and otherwise is already renamed (only the rename removes it), so it is just marked.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from adapters.base import StoreAdapter
from dropstream.flows.common import Step
from dropstream.formats.base import FileFormat
from dropstream.rules.fulfillment import Decision, decide
from dropstream.transports.base import Transport, join, staging_name

FLOW = "orders"
#: Each window also looks this far back: a late-indexed order is still found; the ledger dedupes.
OVERLAP = timedelta(minutes=2)


def extract(step: Step, adapter: StoreAdapter, since: datetime, until: datetime) -> dict[str, Any]:
    """Fetch orders updated in ``[since - OVERLAP, until)`` and record the ones not seen before."""
    fetched = list(adapter.fetch_orders(since - OVERLAP, until))
    new = step.ledger.record_received(step.name, fetched, step.now)
    return {"window": [since.isoformat(), until.isoformat()], "fetched": len(fetched), "new": new}


def transform(step: Step, file_format: FileFormat) -> dict[str, Any]:
    """Decide ready / held / skipped for every received or held order."""
    counts: dict[str, Any] = {"ready": 0, "held": 0, "skipped": 0}
    reasons: dict[str, int] = {}  # why orders were held or skipped, for the run's note
    changes = []
    for state in ("received", "held"):
        for order in step.ledger.orders_in_state(step.name, state):
            decision = decide(order, step.spec.rules)
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
                step.log.warning(
                    "connection %s: order %s %s: %s",
                    step.name,
                    order.number,
                    decision.state,
                    decision.reason,
                )
    step.ledger.set_order_states(step.name, changes, step.now)
    return {**counts, "reasons": reasons}


def finish_unfinished(step: Step, transport: Transport) -> list[str]:
    """Bring every file recorded but not yet published to ``published``, without duplicating it."""
    finished = []
    for row in step.ledger.unfinished_files(step.name):
        name, folder = row["file_name"], row["folder"]
        if row["state"] == "staged":
            transport.stage(folder, name, row["content"])
            step.ledger.mark_file(step.name, name, "committing")
            transport.commit(folder, name)
        elif transport.exists(join(folder, staging_name(name))):
            transport.commit(folder, name)
        # committing and the temporary file gone: the rename already happened.
        step.ledger.mark_file_published(step.name, name, step.now)
        finished.append(name)
    return finished


def load(
    step: Step, transport: Transport, file_format: FileFormat, until: datetime | None
) -> dict[str, Any]:
    """Publish all ready orders in one file; then advance the watermark to ``until``."""
    recovered = finish_unfinished(step, transport)
    ready = step.ledger.orders_in_state(step.name, "ready")
    published: list[str] = []
    if ready:
        folder = step.spec.warehouse.paths.orders
        batch = _batch_id(step)
        name = file_format.order_file_name(batch, step.now)
        buffer = io.BytesIO()
        file_format.write_orders(ready, buffer, file_name=name)
        step.ledger.create_order_file(
            step.name, folder, name, buffer.getvalue(), [o.order_id for o in ready], step.now
        )
        published = finish_unfinished(step, transport)
    if until is not None:
        step.ledger.advance_watermark(step.name, FLOW, until)
    return {
        "files": recovered + published,
        "orders_published": len(ready),
        "recovered_files": len(recovered),
    }


def _batch_id(step: Step) -> str:
    """Unique, file-name safe batch id: the connection and a random suffix."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", step.name)
    return f"{slug}-{uuid.uuid4().hex[:8]}"

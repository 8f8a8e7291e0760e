"""Changes after sending: each order's fingerprint (its lines and ship-to as the store showed
them), kept while it is not sent; a later fetch that differs after sending is recorded
``changed_after_send`` with what changed, and the order is not sent again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from dropstream.codec import order_to_dict
from dropstream.ledger.base import _json
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.schema import orders
from dropstream.models import Order

#: States whose order the warehouse has been told to cancel, or is being told.
CANCEL_STATES = ("cancelling", "cancel_sent")
_ADDRESS_PARTS = (
    "name", "company", "address1", "address2", "city", "state", "postal_code", "country", "phone",
)  # fmt: skip


def fingerprint_basis(order: Order) -> dict[str, Any]:
    """What a change after sending is about: the lines (id, SKU, quantity) and the ship-to.

    In the store's terms, as fetched, before any rule: a bundle line is the bundle, not its
    components, and a SKU is the store's, not ``rules.sku_map``'s. A later fetch is compared in
    the same terms, so a rules change is never taken for a change in the store. Lines the store
    says need no shipping (``requires_shipping`` false) are never sent, so they are left out.
    """
    return {
        "lines": sorted(
            [line.line_id, line.sku, line.quantity]
            for line in order.lines
            if line.requires_shipping
        ),
        "ship_to": {part: getattr(order.ship_to, part) for part in _ADDRESS_PARTS},
    }


def fingerprint(basis: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What differs between two fingerprint bases, for a person: lines and ship-to fields."""
    changes = []
    old_lines = {str(line[0]): line for line in before.get("lines", [])}
    new_lines = {str(line[0]): line for line in after.get("lines", [])}
    for line_id in sorted(old_lines.keys() | new_lines.keys()):
        old, new = old_lines.get(line_id), new_lines.get(line_id)
        if old is None and new is not None:
            changes.append(f"line added: {new[1]} x {new[2]}")
        elif new is None and old is not None:
            changes.append(f"line removed: {old[1]} x {old[2]}")
        elif old != new and old is not None and new is not None:
            changes.append(f"line {old[1]} x {old[2]} is now {new[1]} x {new[2]}")
    old_to, new_to = before.get("ship_to", {}), after.get("ship_to", {})
    for part in _ADDRESS_PARTS:
        if old_to.get(part, "") != new_to.get(part, ""):
            changes.append(f"ship-to {part} {old_to.get(part, '')!r} -> {new_to.get(part, '')!r}")
    return "; ".join(changes) or "no difference in lines or ship-to"


def note_fetched_again(
    conn: Connection, connection: str, order: Order, state: str, row: Any, now: datetime, run: str
) -> None:
    """Keep an order's fingerprint; after sending, a difference is ``changed_after_send``.

    Called by ``record_received`` inside its transaction for every fetched order already known.
    """
    basis = fingerprint_basis(order)
    print_ = fingerprint(basis)
    if row.fingerprint == print_:
        return
    where = (orders.c.connection == connection, orders.c.order_id == order.order_id)
    if state in ("received", "held") or row.fingerprint is None:
        # Not sent yet (the payload is refreshed too), or sent before fingerprints existed.
        conn.execute(
            update(orders).where(*where).values(fingerprint=print_, fingerprint_basis=basis)
        )
        return
    if state == "ready":
        # Changed before it went in a file: decided again from what the store shows now.
        if conn.execute(
            update(orders)
            .where(*where, orders.c.state == "ready")
            .values(
                state="received", reason="changed in the store before sending",
                payload=order_to_dict(order), number=order.number, updated_at=now,
                fingerprint=print_, fingerprint_basis=basis,
            )
        ).rowcount:  # fmt: skip
            write_events(
                conn, [event_row(connection, order.order_id, order.number, "received", now,
                                 "changed in the store before sending: decided again", run=run)],
            )  # fmt: skip
            return
        state = conn.execute(select(orders.c.state).where(*where)).scalar_one()  # claimed now
    if state not in ("in_file", "published", "shipped", *CANCEL_STATES):
        return  # cancelled or skipped: nothing is sent
    moved = conn.execute(
        update(orders)
        .where(*where, orders.c.fingerprint == row.fingerprint)
        .values(fingerprint=print_, fingerprint_basis=basis, updated_at=now)
    ).rowcount
    if moved:  # once per change, whichever run sees it first
        detail = describe_changes(_json(row.fingerprint_basis) or {}, basis)
        write_events(
            conn,
            [
                event_row(
                    connection,
                    order.order_id,
                    order.number,
                    "changed_after_send",
                    now,
                    f"not sent again: {detail}",
                    run=run,
                )
            ],
        )

"""Operators sending things again: a whole order file, a shipment to the store.

Like every change here, each names the state it expects: asked twice, the second finds nothing
to do. Events go in the orders' timelines in the same transaction (``ledger.events``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from dropstream.codec import order_from_dict, shipment_from_dict
from dropstream.errors import LedgerConflictError
from dropstream.ledger.base import LedgerBase, _json
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.orders import staged_file
from dropstream.ledger.schema import files, order_events, orders, shipments
from dropstream.models import Order, Shipment

#: A shipment in these states can be pushed to the store again.
REPUSHABLE = ("pushed", "rejected")


def file_resend_detail(new_file: str, source_file: str, reason: str) -> str:
    return f"in {new_file} (resend of {source_file}): {reason}"


class ResendBook(LedgerBase):
    """A whole order file sent again; a shipment pushed again."""

    def file_orders(self, connection: str, file_name: str) -> tuple[str | None, list[Order]]:
        """The file's state (None: no such file) and the orders it carried that are still only
        published, as the warehouse saw them: shipped ones, and any whose cancellation was asked
        (``cancel_requested_at``, by the store or a person) or sent (``cancelling``,
        ``cancel_sent``) or that were ``cancelled``, are left out."""
        with self._tx() as conn:
            state = conn.execute(
                select(files.c.state).where(
                    files.c.connection == connection, files.c.file_name == file_name
                )
            ).scalar()
            rows = conn.execute(
                select(orders.c.order_id, orders.c.payload)
                .where(
                    orders.c.connection == connection,
                    orders.c.file_name == file_name,
                    orders.c.state == "published",
                    orders.c.cancel_requested_at.is_(None),
                )
                .order_by(orders.c.number)
            ).all()
        return state, [order_from_dict(_json(r.payload)) for r in rows]

    def create_file_resend(
        self,
        connection: str,
        folder: str,
        new_file: str,
        content: bytes,
        source_file: str,
        order_ids: Sequence[str],
        now: datetime,
        *,
        reason: str,
        actor: str,
        run: str = "",
    ) -> bool:
        """Record a new order file (``staged``) carrying ``source_file``'s orders again, and a
        ``resent`` event on each; False, recording nothing, when ``source_file`` was already
        resent for the same reason."""
        marker = f"(resend of {source_file}): {reason}"
        with self._tx() as conn:
            done = conn.execute(
                select(order_events.c.detail).where(
                    order_events.c.connection == connection,
                    order_events.c.order_id.in_(list(order_ids)),
                    order_events.c.event == "resent",
                )
            ).scalars()
            if any(detail.endswith(marker) for detail in done):
                return False
            # Locked, so a cancellation arriving now waits for this file and then gets its own
            # cancel file after it; one that arrived since the orders were read stops the resend.
            now_rows = conn.execute(
                select(
                    orders.c.order_id, orders.c.number, orders.c.state, orders.c.cancel_requested_at
                )
                .where(orders.c.connection == connection, orders.c.order_id.in_(list(order_ids)))
                .with_for_update()
            ).all()
            moved = sorted(
                f"{r.number} ({'cancel asked' if r.cancel_requested_at else r.state})"
                for r in now_rows
                if r.state != "published" or r.cancel_requested_at is not None
            )
            if moved or len(now_rows) != len(set(order_ids)):
                raise LedgerConflictError(
                    f"connection {connection!r}: order(s) {', '.join(moved) or '?'} of "
                    f"{source_file} moved on while it was being resent; nothing was resent: "
                    "ask again (the orders still only published go)"
                )
            numbers = {r.order_id: r.number for r in now_rows}
            conn.execute(
                files.insert().values(
                    staged_file(connection, new_file, folder, content, len(order_ids), now)
                )
            )
            detail = file_resend_detail(new_file, source_file, reason)
            write_events(
                conn,
                [
                    event_row(
                        connection, oid, numbers[oid], "resent", now, detail, run=run, actor=actor
                    )
                    for oid in order_ids
                ],
            )
        return True

    def shipments_of(self, connection: str, target: str) -> list[tuple[Shipment, str]]:
        """Shipments by key (``<order number>|<tracking>``), else all of one order (by its
        store or warehouse number), with their states."""
        with self._tx() as conn:
            query = select(shipments.c.payload, shipments.c.state).where(
                shipments.c.connection == connection
            )
            rows = conn.execute(query.where(shipments.c.shipment_key == target)).all()
            if not rows:
                numbers = conn.execute(
                    select(orders.c.number, orders.c.warehouse_number).where(
                        orders.c.connection == connection,
                        (orders.c.number == target.lstrip("#"))
                        | (orders.c.warehouse_number == target)
                        | (orders.c.order_id == target),
                    )
                ).all()
                # matched packages carry the store's number; the warehouse's, to be sure
                wanted = sorted({n for row in numbers for n in row if n})
                rows = conn.execute(
                    query.where(shipments.c.order_number.in_(wanted)).order_by(
                        shipments.c.shipment_key
                    )
                ).all()
        return [(shipment_from_dict(_json(r.payload)), r.state) for r in rows]

    def requeue_shipment(
        self,
        connection: str,
        shipment: Shipment,
        now: datetime,
        *,
        reason: str,
        actor: str,
        run: str = "",
    ) -> bool:
        """``pushed`` / ``rejected`` -> ``ready``: the next tracking run pushes it again (the
        store adapters find a fulfillment already carrying its tracking number, so nothing is
        doubled). False when it was not in one of those states (queued already)."""
        with self._tx() as conn:
            moved = conn.execute(
                update(shipments)
                .where(
                    shipments.c.connection == connection,
                    shipments.c.shipment_key == shipment.key,
                    shipments.c.state.in_(REPUSHABLE),
                )
                .values(state="ready", reason="", updated_at=now)
            ).rowcount
            if moved:
                write_events(
                    conn,
                    [
                        event_row(
                            connection,
                            shipment.order_id,
                            shipment.order_number,
                            "repush_requested",
                            now,
                            f"tracking {shipment.tracking_number}: {reason}",
                            run=run,
                            actor=actor,
                        )
                    ],
                )
        return bool(moved)

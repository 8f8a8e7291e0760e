"""What operators do to orders: release, resend (cancel: ``cancels.py``); each with its event.

Every method names the state it expects and changes nothing otherwise, so the same action asked
twice does nothing the second time (see ``dropstream.actions``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from dropstream.codec import order_from_dict, order_to_dict
from dropstream.errors import LedgerConflictError
from dropstream.ledger.base import LedgerBase, _json
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.orders import staged_file
from dropstream.ledger.schema import files, order_events, orders
from dropstream.models import Order


class ActionBook(LedgerBase):
    """Operators' changes to orders."""

    def held_order(self, connection: str, order_id: str) -> tuple[Order, str] | None:
        """The stored order and its state (None when the connection has no such order)."""
        with self._tx() as conn:
            row = conn.execute(
                select(orders.c.payload, orders.c.state).where(
                    orders.c.connection == connection, orders.c.order_id == order_id
                )
            ).first()
        return (order_from_dict(_json(row.payload)), row.state) if row else None

    def release_order(
        self,
        connection: str,
        order_id: str,
        decided: Order,
        now: datetime,
        *,
        reason: str,
        actor: str,
        run: str = "",
    ) -> bool:
        """``held`` -> ``ready`` as ``decided`` (the order as the warehouse will see it), by a
        person; False when it is no longer held (released before, or sent, or cancelled)."""
        with self._tx() as conn:
            moved = conn.execute(
                update(orders)
                .where(
                    orders.c.connection == connection,
                    orders.c.order_id == order_id,
                    orders.c.state == "held",
                )
                .values(
                    state="ready",
                    reason=f"released by {actor}: {reason}",
                    payload=order_to_dict(decided),
                    warehouse_number=decided.number,
                    updated_at=now,
                )
                .returning(orders.c.number)
            ).all()
            if moved:
                write_events(
                    conn,
                    [
                        event_row(
                            connection,
                            order_id,
                            moved[0].number,
                            "released",
                            now,
                            reason,
                            run=run,
                            actor=actor,
                        )
                    ],
                )
        return bool(moved)

    def create_resend_file(
        self,
        connection: str,
        folder: str,
        file_name: str,
        content: bytes,
        order_id: str,
        now: datetime,
        *,
        reason: str,
        actor: str,
        run: str = "",
    ) -> bool:
        """Record a new order file (``staged``) holding one already-published order again, and
        a ``resent`` event; the order keeps its state. False, recording nothing, when this order
        was already resent for the same reason (the same action asked twice)."""
        with self._tx() as conn:
            row = conn.execute(
                select(orders.c.number, orders.c.state).where(
                    orders.c.connection == connection, orders.c.order_id == order_id
                )
            ).one()
            done = conn.execute(
                select(order_events.c.detail).where(
                    order_events.c.connection == connection,
                    order_events.c.order_id == order_id,
                    order_events.c.event == "resent",
                )
            ).scalars()
            if any(detail.endswith(f": {reason}") for detail in done):
                return False
            if row.state not in ("published", "shipped"):
                raise LedgerConflictError(
                    f"connection {connection!r}: order {row.number} is {row.state}: only a "
                    "published or shipped order can be resent"
                )
            conn.execute(
                files.insert().values(staged_file(connection, file_name, folder, content, 1, now))
            )
            write_events(
                conn,
                [
                    event_row(
                        connection,
                        order_id,
                        row.number,
                        "resent",
                        now,
                        f"in {file_name}: {reason}",
                        run=run,
                        actor=actor,
                    )
                ],
            )
        return True

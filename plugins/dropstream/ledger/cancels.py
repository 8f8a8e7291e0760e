"""Cancellations and changes after sending.

An order the store cancels before it was sent becomes ``cancelled`` and is never sent. One
cancelled after the warehouse has it keeps its state and gets a cancel request
(``cancel_requested_at``); the orders flow's load step then claims it into a *cancel file*
(``published`` -> ``cancelling``, in the same transaction that records the file, exactly like
an order file) and the file's publication makes it ``cancel_sent``. Cancel files are rows of
``ds_files`` (``kind = 'cancel'``), so they are published, and recovered after a crash, by the
very same code as order files (``flows.orders.finish_unfinished``).

An order fetched again after sending whose lines or ship-to differ from what was fetched before
it was sent is not re-sent: ``changed_after_send`` is written to its timeline with what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from dropstream.codec import order_from_dict, order_to_dict
from dropstream.errors import LedgerConflictError
from dropstream.ledger.base import LedgerBase, _json
from dropstream.ledger.changes import fingerprint, fingerprint_basis
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.orders import UNSENT_STATES, staged_file
from dropstream.ledger.schema import files, order_events, orders
from dropstream.models import Cancellation, Order

#: Sent states a store's cancellation is recorded against (the warehouse must be told).
CANCELLABLE_AFTER_SEND = ("in_file", "published", "shipped")


class CancelBook(LedgerBase):
    """Store cancellations, cancel files, and changes after sending."""

    def record_cancellations(
        self, connection: str, cancellations: Iterable[Cancellation], now: datetime, run: str = ""
    ) -> dict[str, int]:
        """Record what the store cancelled: unsent orders become ``cancelled`` (never sent),
        sent ones get a cancel request for the next load. Each only once.

        Returns counts: ``cancelled`` (never sent), ``cancel_after_send`` (the warehouse will be
        told), ``already`` (recorded before, or shipped/cancelled already).
        """
        counts = {"cancelled": 0, "cancel_after_send": 0, "already": 0}
        with self._tx() as conn:
            for item in sorted(cancellations, key=lambda c: c.order_id):
                outcome = self._cancel_one(
                    conn, connection, item.order, item.reason or "cancelled in the store", now,
                    run=run, actor=None,
                )  # fmt: skip
                counts[outcome] += 1
        return counts

    def _cancel_one(
        self,
        conn: Connection,
        connection: str,
        order: Order | str,
        reason: str,
        now: datetime,
        *,
        run: str,
        actor: str | None,
    ) -> str:
        """One order's cancellation inside the caller's transaction; which outcome it had."""
        order_id = order if isinstance(order, str) else order.order_id
        where = (orders.c.connection == connection, orders.c.order_id == order_id)
        row = conn.execute(select(orders.c.state, orders.c.number).where(*where)).first()
        if row is None and isinstance(order, Order):
            # Cancelled before DropStream ever fetched it: recorded so no later fetch sends it.
            basis = fingerprint_basis(order)
            inserted = conn.execute(
                self._insert(orders)
                .values(
                    connection=connection, order_id=order_id, number=order.number,
                    state="cancelled", reason=reason, payload=order_to_dict(order),
                    received_at=now, updated_at=now, received_run=run or None,
                    fingerprint=fingerprint(basis), fingerprint_basis=basis,
                )
                .on_conflict_do_nothing()
            ).rowcount  # fmt: skip
            if inserted:
                write_events(
                    conn, [event_row(connection, order_id, order.number, "cancelled", now,
                                     reason, run=run, actor=actor)],
                )  # fmt: skip
                return "cancelled"
            row = conn.execute(select(orders.c.state, orders.c.number).where(*where)).first()
        if row is None:
            raise KeyError(order_id)
        if row.state in UNSENT_STATES:
            moved = conn.execute(
                update(orders)
                .where(*where, orders.c.state.in_(UNSENT_STATES))
                .values(state="cancelled", reason=reason, updated_at=now)
            ).rowcount
            if moved:
                write_events(
                    conn, [event_row(connection, order_id, row.number, "cancelled", now, reason,
                                     run=run, actor=actor)],
                )  # fmt: skip
                return "cancelled"
            # claimed into a file meanwhile: it is sent now, so it is cancelled as sent
            row = conn.execute(select(orders.c.state, orders.c.number).where(*where)).one()
        if row.state in CANCELLABLE_AFTER_SEND:
            moved = conn.execute(
                update(orders)
                .where(
                    *where,
                    orders.c.state.in_(CANCELLABLE_AFTER_SEND),
                    orders.c.cancel_requested_at.is_(None),
                )
                .values(cancel_requested_at=now, cancel_reason=reason, updated_at=now)
            ).rowcount
            if moved:
                detail = reason
                if row.state == "shipped":
                    detail += " (already shipped: no cancellation is sent; arrange a return)"
                write_events(
                    conn, [event_row(connection, order_id, row.number, "cancel_after_send", now,
                                     detail, run=run, actor=actor)],
                )  # fmt: skip
                return "cancel_after_send"
        return "already"

    def orders_to_cancel(self, connection: str) -> list[tuple[Order, str]]:
        """Published orders with a cancel request not yet in a cancel file: (order as the
        warehouse saw it, reason), oldest request first."""
        with self._tx() as conn:
            rows = conn.execute(
                select(orders.c.payload, orders.c.cancel_reason)
                .where(
                    orders.c.connection == connection,
                    orders.c.state == "published",
                    orders.c.cancel_requested_at.is_not(None),
                    orders.c.cancel_file.is_(None),
                )
                .order_by(orders.c.cancel_requested_at, orders.c.order_id)
            ).all()
        return [(order_from_dict(_json(r.payload)), r.cancel_reason or "") for r in rows]

    def create_cancel_file(
        self,
        connection: str,
        folder: str,
        file_name: str,
        content: bytes,
        order_ids: Sequence[str],
        now: datetime,
        *,
        run: str = "",
    ) -> None:
        """Record a cancel file (``staged``) and move its orders published -> cancelling, all
        or nothing: an order another run claimed first rolls the whole file back."""
        with self._tx() as conn:
            row = staged_file(connection, file_name, folder, content, len(order_ids), now)
            conn.execute(files.insert().values({**row, "kind": "cancel"}))
            claimed: list[Any] = []
            for order_id in sorted(order_ids):
                claimed += conn.execute(
                    update(orders)
                    .where(
                        orders.c.connection == connection,
                        orders.c.order_id == order_id,
                        orders.c.state == "published",
                        orders.c.cancel_requested_at.is_not(None),
                        orders.c.cancel_file.is_(None),
                    )
                    .values(state="cancelling", cancel_file=file_name, updated_at=now)
                    .returning(orders.c.order_id, orders.c.number)
                ).all()
            if len(claimed) != len(order_ids):
                raise LedgerConflictError(
                    f"connection {connection!r}: {len(order_ids) - len(claimed)} of "
                    f"{len(order_ids)} cancellations for {file_name} were taken by another run; "
                    "this run will retry"
                )

    def cancel_order(
        self,
        connection: str,
        order_id: str,
        now: datetime,
        *,
        reason: str,
        actor: str | None = None,
        run: str = "",
    ) -> tuple[str, bool]:
        """Cancel one order by hand: (state before, whether anything changed).

        Not sent: ``cancelled``, never sent. Sent: a cancel request, which the next load (or the
        operator action, at once) sends to the warehouse in a cancel file. Asked twice, nothing
        the second time. Raises KeyError when the connection has no such order.
        """
        with self._tx() as conn:
            before = conn.execute(
                select(orders.c.state).where(
                    orders.c.connection == connection, orders.c.order_id == order_id
                )
            ).scalar()
            if before is None:
                raise KeyError(order_id)
            outcome = self._cancel_one(
                conn, connection, order_id, reason, now, run=run, actor=actor
            )
        return before, outcome != "already"

    def changed_after_send_count(self, connection: str) -> int:
        """Orders whose lines or ship-to changed in the store after they were sent."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    select(func.count(func.distinct(order_events.c.order_id))).where(
                        order_events.c.connection == connection,
                        order_events.c.event == "changed_after_send",
                    )
                ).scalar()
                or 0
            )

"""Each order's timeline: the events the ledger's own state changes write (``ds_order_events``).

No caller records an event by hand: ``record_received``, ``set_order_states``,
``create_order_file``, ``mark_file_published``, the cancellations (``cancels.py``), changes
after sending (``changes.py``) and the shipment transitions
write theirs in the same transaction as the change itself, so a change without its event (or
an event without its change) cannot happen. Events are only appended, never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from dropstream.ledger.base import LedgerBase, _aware
from dropstream.ledger.schema import order_events, orders

#: Every event an order's timeline can show, with what it means to a person.
EVENTS: dict[str, str] = {
    "received": "fetched from the store",
    "ready": "passed the rules; goes in the next order file",
    "held": "held (waits for a rules change or an operator)",
    "skipped": "skipped by the rules (never sent)",
    "in_file": "written to an order file",
    "published": "order file published to the warehouse",
    "shipment_received": "shipment confirmation read from the warehouse",
    "unknown_shipment": "shipment for an order no connection sent",
    "shipped": "shipment pushed to the store",
    "shipment_rejected": "shipment refused by the store",
    "cancelled": "cancelled: never sent",
    "cancel_after_send": "cancelled after the order was sent: the warehouse gets a cancellation",
    "cancel_sent": "cancel file published to the warehouse",
    "changed_after_send": "lines or ship-to changed in the store after sending (not re-sent)",
    "released": "released by an operator: goes in the next order file",
    "resent": "sent again by an operator, in a new order file",
    "repush_requested": "shipment queued by an operator to be pushed to the store again",
    "review_asked": "an operator was asked what to do (Airflow → Required Actions)",
    "kept_held": "an operator chose to keep it held",
    "review_timed_out": "nobody answered the review in time: still held (a snapshot: waits)",
    # Connection-level actions, kept in the same log with no order (order_id and number "").
    "enabled": "connection enabled (its three DAGs unpaused)",
    "disabled": "connection disabled (its three DAGs paused)",
    "snapshot_approved": "suspect inventory snapshot approved: pushed on the next inventory run",
    "snapshot_rejected": "suspect inventory snapshot rejected: never pushed",
    "kept_waiting": "an operator chose to keep the suspect snapshot waiting (not pushed)",
}


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One step of one order's life."""

    connection: str
    order_id: str
    order_number: str
    at: datetime
    event: str
    detail: str
    run_id: str | None
    actor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "order_id": self.order_id,
            "order_number": self.order_number,
            "at": self.at.isoformat(),
            "event": self.event,
            "meaning": EVENTS.get(self.event, self.event),
            "detail": self.detail,
            "run_id": self.run_id,
            "actor": self.actor,
        }


def event_row(
    connection: str,
    order_id: str,
    order_number: str,
    event: str,
    at: datetime,
    detail: str = "",
    *,
    run: str = "",
    actor: str | None = None,
) -> dict[str, Any]:
    """A ``ds_order_events`` row; ``event`` must be one of :data:`EVENTS`."""
    if event not in EVENTS:
        raise ValueError(f"unknown order event {event!r}; known: {', '.join(EVENTS)}")
    return {
        "connection": connection,
        "order_id": order_id,
        "order_number": order_number,
        "at": at,
        "event": event,
        "detail": detail,
        "run_id": run or None,
        "actor": actor,
    }


def write_events(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Append events inside the caller's transaction (the one making the change)."""
    batch = list(rows)
    if batch:
        conn.execute(order_events.insert(), batch)


class EventBook(LedgerBase):
    """Reading the timelines the other books write; connection-level actions."""

    def record_connection_event(
        self, connection: str, event: str, now: datetime, detail: str, *, actor: str, run: str = ""
    ) -> None:
        """An operator's action on a whole connection (``enabled`` / ``disabled``)."""
        with self._tx() as conn:
            write_events(
                conn, [event_row(connection, "", "", event, now, detail, run=run, actor=actor)]
            )

    def order_timeline(self, connection: str, order_id: str) -> list[OrderEvent]:
        """Every event of one order, oldest first, packages matched on its numbers included."""
        with self._tx() as conn:
            numbers = conn.execute(
                select(orders.c.number, orders.c.warehouse_number).where(
                    orders.c.connection == connection, orders.c.order_id == order_id
                )
            ).first()
            known = sorted({n for n in (numbers or ()) if n})
            rows = conn.execute(
                select(order_events)
                .where(
                    order_events.c.connection == connection,
                    or_(
                        order_events.c.order_id == order_id,
                        and_(order_events.c.order_id == "", order_events.c.order_number.in_(known)),
                    ),
                )
                .order_by(order_events.c.at, order_events.c.id)
            ).all()
        return [_event(r) for r in rows]

    def connection_events(
        self, connection: str, *, event: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[OrderEvent]:
        """A connection's events, newest first (optionally only one kind)."""
        query = select(order_events).where(order_events.c.connection == connection)
        if event is not None:
            query = query.where(order_events.c.event == event)
        with self._tx() as conn:
            rows = conn.execute(
                query.order_by(order_events.c.at.desc(), order_events.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [_event(r) for r in rows]


def _event(row: Any) -> OrderEvent:
    at = _aware(row.at)
    assert at is not None
    return OrderEvent(
        connection=row.connection,
        order_id=row.order_id,
        order_number=row.order_number,
        at=at,
        event=row.event,
        detail=row.detail,
        run_id=row.run_id,
        actor=row.actor,
    )

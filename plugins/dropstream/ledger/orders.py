"""Orders and the order files they are published in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
    update,
)

from dropstream.codec import order_from_dict, order_to_dict
from dropstream.errors import LedgerConflictError
from dropstream.ledger.base import LedgerBase, _json
from dropstream.ledger.schema import files, orders
from dropstream.models import Order


class OrderBook(LedgerBase):
    """Each order's life and each order file's publication."""

    # -- orders ---------------------------------------------------------------------------
    def record_received(self, connection: str, received: Iterable[Order], now: datetime) -> int:
        """Insert orders not seen before (state ``received``); return how many were new.

        An order seen before keeps its state; while it has not been sent its payload is refreshed.
        """
        new = 0
        with self._tx() as conn:
            for order in received:
                payload = order_to_dict(order)
                row = {
                    "connection": connection,
                    "order_id": order.order_id,
                    "number": order.number,
                    "state": "received",
                    "reason": "",
                    "payload": payload,
                    "received_at": now,
                    "updated_at": now,
                }
                result = conn.execute(self._insert(orders).values(row).on_conflict_do_nothing())
                if result.rowcount:
                    new += 1
                else:
                    conn.execute(
                        update(orders)
                        .where(
                            orders.c.connection == connection,
                            orders.c.order_id == order.order_id,
                            orders.c.state.in_(("received", "held")),
                        )
                        .values(payload=payload, number=order.number, updated_at=now)
                    )
        return new

    def orders_in_state(self, connection: str, state: str) -> list[Order]:
        with self._tx() as conn:
            rows = conn.execute(
                select(orders.c.payload)
                .where(orders.c.connection == connection, orders.c.state == state)
                .order_by(orders.c.received_at, orders.c.order_id)
            ).all()
        return [order_from_dict(_json(r.payload)) for r in rows]

    def set_order_states(
        self,
        connection: str,
        changes: Sequence[tuple[str, str, str, Order | None]],
        now: datetime,
        *,
        from_states: Sequence[str] = ("received", "held"),
    ) -> int:
        """Apply ``(order_id, state, reason, order)`` changes to orders still in ``from_states``.

        ``order``, when given, replaces the stored payload (the order as the warehouse sees it).
        """
        done = 0
        with self._tx() as conn:
            for order_id, state, reason, order in changes:
                values: dict[str, Any] = {"state": state, "reason": reason, "updated_at": now}
                if order is not None:
                    values["payload"] = order_to_dict(order)
                done += conn.execute(
                    update(orders)
                    .where(
                        orders.c.connection == connection,
                        orders.c.order_id == order_id,
                        orders.c.state.in_(tuple(from_states)),
                    )
                    .values(**values)
                ).rowcount
        return done

    def order_counts(self, connection: str) -> dict[str, int]:
        from sqlalchemy import func

        with self._tx() as conn:
            rows = conn.execute(
                select(orders.c.state, func.count())
                .where(orders.c.connection == connection)
                .group_by(orders.c.state)
            ).all()
        return {state: count for state, count in rows}

    def orders_by_number(
        self, connection: str, numbers: Iterable[str]
    ) -> dict[str, tuple[Order, str]]:
        """Orders known under these client order numbers, with their state."""
        wanted = sorted(set(numbers))
        found: dict[str, tuple[Order, str]] = {}
        with self._tx() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(orders.c.number, orders.c.payload, orders.c.state).where(
                        orders.c.connection == connection,
                        orders.c.number.in_(wanted[start : start + 500]),
                    )
                ).all()
                found.update({r.number: (order_from_dict(_json(r.payload)), r.state) for r in rows})
        return found

    # -- order files ----------------------------------------------------------------------
    def create_order_file(
        self,
        connection: str,
        folder: str,
        file_name: str,
        content: bytes,
        order_ids: Sequence[str],
        now: datetime,
    ) -> None:
        """Record a file and move its orders ready -> in_file atomically, or not at all."""
        with self._tx() as conn:
            conn.execute(
                files.insert().values(
                    connection=connection,
                    file_name=file_name,
                    folder=folder,
                    state="staged",
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    order_count=len(order_ids),
                    created_at=now,
                )
            )
            claimed = 0
            for order_id in order_ids:
                claimed += conn.execute(
                    update(orders)
                    .where(
                        orders.c.connection == connection,
                        orders.c.order_id == order_id,
                        orders.c.state == "ready",
                    )
                    .values(state="in_file", file_name=file_name, updated_at=now)
                ).rowcount
            if claimed != len(order_ids):
                raise LedgerConflictError(
                    f"connection {connection!r}: {len(order_ids) - claimed} "
                    f"of {len(order_ids)} orders "
                    f"for {file_name} were claimed by another run; this run will retry"
                )

    def unfinished_files(self, connection: str) -> list[dict[str, Any]]:
        """Order files recorded but not yet known to be published (oldest first)."""
        with self._tx() as conn:
            rows = (
                conn.execute(
                    select(files)
                    .where(files.c.connection == connection, files.c.state != "published")
                    .order_by(files.c.created_at, files.c.file_name)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def mark_file(self, connection: str, file_name: str, state: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(files)
                .where(files.c.connection == connection, files.c.file_name == file_name)
                .values(state=state)
            )

    def mark_file_published(self, connection: str, file_name: str, now: datetime) -> int:
        """File -> published and its orders in_file -> published; return the order count."""
        with self._tx() as conn:
            conn.execute(
                update(files)
                .where(files.c.connection == connection, files.c.file_name == file_name)
                .values(state="published", published_at=now)
            )
            return conn.execute(
                update(orders)
                .where(
                    orders.c.connection == connection,
                    orders.c.file_name == file_name,
                    orders.c.state == "in_file",
                )
                .values(state="published", updated_at=now)
            ).rowcount

    def published_files(self, connection: str) -> list[str]:
        with self._tx() as conn:
            return list(
                conn.execute(
                    select(files.c.file_name)
                    .where(files.c.connection == connection, files.c.state == "published")
                    .order_by(files.c.created_at)
                ).scalars()
            )

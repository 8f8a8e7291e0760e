"""Orders and the order files they are published in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
    update,
)

from dropstream.codec import order_from_dict, order_to_dict
from dropstream.errors import LedgerConflictError
from dropstream.ledger.base import LedgerBase, _json
from dropstream.ledger.changes import fingerprint, fingerprint_basis, note_fetched_again
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.schema import files, orders
from dropstream.models import Order

#: States of an order that is, or may already be, in the warehouse's hands (a cancelled one
#: may still ship: its package is matched all the same).
SENT_STATES = ("in_file", "published", "shipped", "cancelling", "cancel_sent")
#: States an order can be cancelled from without telling the warehouse.
UNSENT_STATES = ("received", "held", "skipped", "ready")


def staged_file(
    connection: str, file_name: str, folder: str, content: bytes, order_count: int, now: Any
) -> dict[str, Any]:
    """The ``ds_files`` row of an order file just staged (not yet published)."""
    return {
        "connection": connection,
        "file_name": file_name,
        "folder": folder,
        "state": "staged",
        "content": content,
        "sha256": hashlib.sha256(content).hexdigest(),
        "order_count": order_count,
        "created_at": now,
    }


class OrderBook(LedgerBase):
    """Each order's life and each order file's publication."""

    # -- orders ---------------------------------------------------------------------------
    def record_received(
        self, connection: str, received: Iterable[Order], now: datetime, run: str = ""
    ) -> int:
        """Insert orders not seen before (state ``received``); return how many were new.

        An order seen before keeps its state; while it has not been sent its payload is refreshed.
        Once sent, a change of its lines or ship-to is recorded (``changed_after_send``), never
        sent again. ``run`` (the Airflow run id) is kept on new orders for that run's summary.
        """
        new = 0
        with self._tx() as conn:
            # Rows are locked in one order (by id) in every statement: no deadlock between runs.
            for order in sorted(received, key=lambda o: o.order_id):
                payload = order_to_dict(order)
                basis = fingerprint_basis(order)
                row = {
                    "connection": connection,
                    "order_id": order.order_id,
                    "number": order.number,
                    "state": "received",
                    "reason": "",
                    "payload": payload,
                    "received_at": now,
                    "updated_at": now,
                    "received_run": run or None,
                    "fingerprint": fingerprint(basis),
                    "fingerprint_basis": basis,
                }
                result = conn.execute(self._insert(orders).values(row).on_conflict_do_nothing())
                if result.rowcount:
                    new += 1
                    write_events(
                        conn,
                        [
                            event_row(
                                connection, order.order_id, order.number, "received", now, run=run
                            )
                        ],
                    )
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
                    known = conn.execute(
                        select(
                            orders.c.state, orders.c.fingerprint, orders.c.fingerprint_basis
                        ).where(
                            orders.c.connection == connection, orders.c.order_id == order.order_id
                        )
                    ).one()
                    note_fetched_again(conn, connection, order, known.state, known, now, run)
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
        run: str = "",
    ) -> int:
        """Apply ``(order_id, state, reason, order)`` changes to orders still in ``from_states``.

        ``order``, when given, replaces the stored payload (the order as the warehouse sees it);
        a ``ready`` order also records the number the warehouse will see (prefix included).
        A change of state is written to the order's timeline with its reason; ``shipped`` is
        not, because each package's push writes its own ``shipped`` event with carrier and
        tracking (``WarehouseBook.set_shipment_state``).
        """
        done = 0
        with self._tx() as conn:
            for order_id, state, reason, order in sorted(changes, key=lambda c: c[0]):
                values: dict[str, Any] = {"state": state, "reason": reason, "updated_at": now}
                if order is not None:
                    values["payload"] = order_to_dict(order)
                    if state == "ready":
                        values["warehouse_number"] = order.number
                where = (
                    orders.c.connection == connection,
                    orders.c.order_id == order_id,
                    orders.c.state.in_(tuple(from_states)),
                )
                moved = conn.execute(
                    update(orders)
                    .where(*where, orders.c.state != state)
                    .values(**values)
                    .returning(orders.c.number)
                ).all()
                done += len(moved)
                if moved and state != "shipped":
                    write_events(
                        conn,
                        [
                            event_row(
                                connection, order_id, moved[0].number, state, now, reason, run=run
                            )
                        ],
                    )
                elif not moved and state in from_states:  # same state: refresh, no new event
                    done += conn.execute(
                        update(orders).where(*where, orders.c.state == state).values(**values)
                    ).rowcount
        return done

    def order_counts(self, connection: str) -> dict[str, int]:
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
        *,
        run: str = "",
    ) -> None:
        """Record a file and move its orders ready -> in_file atomically, or not at all."""
        with self._tx() as conn:
            conn.execute(
                files.insert().values(
                    staged_file(connection, file_name, folder, content, len(order_ids), now)
                )
            )
            claimed: list[Any] = []  # (order_id, number) rows
            for order_id in sorted(order_ids):
                claimed += conn.execute(
                    update(orders)
                    .where(
                        orders.c.connection == connection,
                        orders.c.order_id == order_id,
                        orders.c.state == "ready",
                    )
                    .values(state="in_file", file_name=file_name, updated_at=now)
                    .returning(orders.c.order_id, orders.c.number)
                ).all()
            if len(claimed) != len(order_ids):
                raise LedgerConflictError(
                    f"connection {connection!r}: {len(order_ids) - len(claimed)} "
                    f"of {len(order_ids)} orders "
                    f"for {file_name} were claimed by another run; this run will retry"
                )
            write_events(
                conn,
                (
                    event_row(connection, r.order_id, r.number, "in_file", now, file_name, run=run)
                    for r in claimed
                ),
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

    def mark_file_committing(self, connection: str, file_name: str) -> None:
        """``staged`` -> ``committing``: the whole upload is on the server, the rename is next."""
        with self._tx() as conn:
            moved = conn.execute(
                update(files)
                .where(
                    files.c.connection == connection,
                    files.c.file_name == file_name,
                    files.c.state == "staged",
                )
                .values(state="committing")
            ).rowcount
        if moved != 1:
            raise self._file_conflict(connection, file_name, "staged")

    def mark_file_published(
        self, connection: str, file_name: str, now: datetime, *, run: str = ""
    ) -> int:
        """``committing`` -> ``published``, with its orders ``in_file`` -> ``published`` (an
        order file) or ``cancelling`` -> ``cancel_sent`` (a cancel file).

        Returns how many orders were published (or cancellations sent). A file in any other
        state is left alone and LedgerConflictError raised: ``published`` never goes back,
        nothing is published twice.
        """
        with self._tx() as conn:
            moved = conn.execute(
                update(files)
                .where(
                    files.c.connection == connection,
                    files.c.file_name == file_name,
                    files.c.state == "committing",
                )
                .values(state="published", published_at=now)
            ).rowcount
            if moved != 1:
                raise self._file_conflict(connection, file_name, "committing")
            published = conn.execute(
                update(orders)
                .where(
                    orders.c.connection == connection,
                    orders.c.file_name == file_name,
                    orders.c.state == "in_file",
                )
                .values(state="published", updated_at=now)
                .returning(orders.c.order_id, orders.c.number)
            ).all()
            write_events(
                conn,
                (
                    event_row(
                        connection, r.order_id, r.number, "published", now, file_name, run=run
                    )
                    for r in published
                ),
            )
            cancelled = conn.execute(
                update(orders)
                .where(
                    orders.c.connection == connection,
                    orders.c.cancel_file == file_name,
                    orders.c.state == "cancelling",
                )
                .values(state="cancel_sent", updated_at=now)
                .returning(orders.c.order_id, orders.c.number)
            ).all()
            write_events(
                conn,
                (
                    event_row(
                        connection, r.order_id, r.number, "cancel_sent", now, file_name, run=run
                    )
                    for r in cancelled
                ),
            )
            return len(published) + len(cancelled)

    def _file_conflict(self, connection: str, file_name: str, expected: str) -> LedgerConflictError:
        with self._tx() as conn:
            state = conn.execute(
                select(files.c.state).where(
                    files.c.connection == connection, files.c.file_name == file_name
                )
            ).scalar()
        return LedgerConflictError(
            f"connection {connection!r}: order file {file_name} is {state or 'not recorded'}, "
            f"not {expected}: another run changed it; this attempt stops and is retried"
        )

    def orders_sent_as(
        self, connections: Sequence[str], numbers: Iterable[str]
    ) -> dict[str, list[tuple[str, str, str]]]:
        """Orders sent to the warehouse under these numbers, by any of ``connections``.

        ``{warehouse number: [(connection, order id, store number), …]}``; more than one entry
        means two connections sent the same number (a prefix conflict).
        """
        wanted = sorted(set(numbers))
        found: dict[str, list[tuple[str, str, str]]] = {}
        with self._tx() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = conn.execute(
                    select(
                        func.coalesce(orders.c.warehouse_number, orders.c.number).label("sent_as"),
                        orders.c.connection,
                        orders.c.order_id,
                        orders.c.number,
                    )
                    .where(
                        orders.c.connection.in_(list(connections)),
                        orders.c.state.in_(SENT_STATES),
                        orders.c.warehouse_number.in_(chunk)
                        # sent before prefixes existed: the file held the store's number
                        | (orders.c.warehouse_number.is_(None) & orders.c.number.in_(chunk)),
                    )
                    .order_by(orders.c.connection)
                ).all()
                for row in rows:
                    found.setdefault(row.sent_as, []).append(
                        (row.connection, row.order_id, row.number)
                    )
        return found

    def run_order_counts(
        self, connection: str, run: str, published_files: Sequence[str]
    ) -> dict[str, int]:
        """What one run did with orders: those it first fetched, and those it published.

        ``own_*`` count the orders this run's extract recorded first, by where they are now
        (published by this run, published by another run, waiting, held or skipped);
        ``published_for_others`` counts orders this run published that other runs fetched.
        """
        with self._tx() as conn:
            own = conn.execute(
                select(orders.c.state, orders.c.file_name).where(
                    orders.c.connection == connection, orders.c.received_run == run
                )
            ).all()
            here = set(published_files)
            for_others = 0
            if here:
                for_others = len(
                    conn.execute(
                        select(orders.c.order_id).where(
                            orders.c.connection == connection,
                            orders.c.file_name.in_(sorted(here)),
                            (orders.c.received_run != run) | orders.c.received_run.is_(None),
                        )
                    ).all()
                )
        counts = {
            "own_orders": len(own),
            "own_published_here": 0,
            "own_published_by_other_runs": 0,
            "own_waiting": 0,
            "own_held": 0,
            "own_skipped": 0,
        }
        for state, file_name in own:
            if state in ("published", "shipped"):
                key = "own_published_here" if file_name in here else "own_published_by_other_runs"
            elif state in ("held", "skipped"):
                key = f"own_{state}"
            else:
                key = "own_waiting"
            counts[key] += 1
        return {**counts, "published_for_other_runs": for_others}

    def published_files(self, connection: str) -> list[str]:
        with self._tx() as conn:
            return list(
                conn.execute(
                    select(files.c.file_name)
                    .where(files.c.connection == connection, files.c.state == "published")
                    .order_by(files.c.created_at)
                ).scalars()
            )

"""Inventory snapshots the zero-out guard held back, and what a person decided about them.

A suspect snapshot is kept whole (``suspect``); a person approves it (``approved``: the next
inventory run applies it, then ``applied``) or rejects it (``rejected``); a newer snapshot that
is not suspect supersedes every older one still waiting (``superseded``). Every change names the
state it expects, so asking twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from dropstream.ledger.base import LedgerBase, _aware, _json
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.schema import inventory, orders
from dropstream.ledger.schema import inventory_snapshots as snapshots

#: Orders the warehouse has been sent but has not shipped: their units are still on its shelves.
#: ``cancelling`` (its cancel file not published yet) still counts: the warehouse may pick it
#: until told; ``cancel_sent`` does not: the warehouse keeps those units to sell.
IN_FLIGHT_STATES = ("in_file", "published", "cancelling")

WAITING = ("suspect",)
#: Every state a kept snapshot can be in (the Files page lists them all).
SNAPSHOT_STATES = ("suspect", "approved", "applied", "rejected", "superseded")
DECISIONS = {"approve": "approved", "reject": "rejected"}


class SnapshotBook(LedgerBase):
    """Suspect inventory snapshots and their decisions."""

    def keep_suspect_snapshot(
        self,
        connection: str,
        source_file: str,
        levels: Sequence[tuple[str, int, datetime]],
        reason: str,
        now: datetime,
        *,
        run: str = "",
    ) -> bool:
        """Keep a snapshot the guard held back; False when this file was kept before."""
        as_of = max((when for _, _, when in levels), default=now)
        row = {
            "connection": connection,
            "source_file": source_file,
            "state": "suspect",
            "reason": reason,
            "levels": [[sku, qty, when.isoformat()] for sku, qty, when in levels],
            "as_of": as_of,
            "kept_at": now,
            "kept_run": run or None,
        }
        with self._tx() as conn:
            return bool(
                conn.execute(self._insert(snapshots).values(row).on_conflict_do_nothing()).rowcount
            )

    def suspect_snapshots(self, connection: str, *states: str) -> list[dict[str, Any]]:
        """The connection's kept snapshots in ``states`` (default: waiting for a person),
        oldest first, without their levels (see ``snapshot_levels``)."""
        wanted = states or WAITING
        with self._tx() as conn:
            rows = (
                conn.execute(
                    select(*(c for c in snapshots.c if c.name != "levels"))
                    .where(snapshots.c.connection == connection, snapshots.c.state.in_(wanted))
                    .order_by(snapshots.c.as_of, snapshots.c.source_file)
                )
                .mappings()
                .all()
            )
        out = []
        for r in rows:
            item = dict(r)
            for key in ("as_of", "kept_at", "decided_at", "applied_at"):
                item[key] = _aware(item[key])
            out.append(item)
        return out

    def snapshot_state(self, connection: str, source_file: str) -> str | None:
        """The kept snapshot's state (None: the connection kept no snapshot from that file)."""
        with self._tx() as conn:
            return conn.execute(
                select(snapshots.c.state).where(
                    snapshots.c.connection == connection, snapshots.c.source_file == source_file
                )
            ).scalar()

    def suspect_snapshot_counts(self) -> dict[str, int]:
        """Connection -> snapshots waiting for a person (for the overview)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(snapshots.c.connection, func.count())
                .where(snapshots.c.state.in_(WAITING))
                .group_by(snapshots.c.connection)
            ).all()
        return {connection: count for connection, count in rows}

    def snapshot_levels(self, connection: str, source_file: str) -> list[tuple[str, int, datetime]]:
        with self._tx() as conn:
            raw = conn.execute(
                select(snapshots.c.levels).where(
                    snapshots.c.connection == connection, snapshots.c.source_file == source_file
                )
            ).scalar()
        if raw is None:
            raise KeyError(source_file)
        return [(sku, int(qty), datetime.fromisoformat(when)) for sku, qty, when in raw]

    def decide_snapshot(
        self,
        connection: str,
        source_file: str,
        decision: str,
        now: datetime,
        *,
        actor: str,
        note: str = "",
        run: str = "",
    ) -> tuple[str, bool]:
        """``approve`` (applied on the next inventory run) or ``reject`` a waiting snapshot.

        Returns (state before, changed); a snapshot already decided is left as it is.
        Raises KeyError when the connection kept no snapshot from that file.
        """
        target = DECISIONS[decision]
        with self._tx() as conn:
            state = conn.execute(
                select(snapshots.c.state).where(
                    snapshots.c.connection == connection, snapshots.c.source_file == source_file
                )
            ).scalar()
            if state is None:
                raise KeyError(source_file)
            moved = conn.execute(
                update(snapshots)
                .where(
                    snapshots.c.connection == connection,
                    snapshots.c.source_file == source_file,
                    snapshots.c.state.in_(WAITING),
                )
                .values(state=target, decided_at=now, decided_by=actor, decision_note=note)
            ).rowcount
            if moved:
                event = f"snapshot_{target}"
                detail = f"{source_file}: {note}" if note else source_file
                write_events(
                    conn, [event_row(connection, "", "", event, now, detail, run=run, actor=actor)]
                )
        return state, bool(moved)

    def supersede_snapshots(
        self, connection: str, newer_than: datetime, now: datetime, *, by_file: str
    ) -> int:
        """A snapshot that is not suspect arrived: drop the waiting ones older than it."""
        with self._tx() as conn:
            return conn.execute(
                update(snapshots)
                .where(
                    snapshots.c.connection == connection,
                    snapshots.c.state.in_(WAITING),
                    snapshots.c.as_of <= newer_than,
                )
                .values(
                    state="superseded",
                    decided_at=now,
                    decided_by="dropstream",
                    decision_note=f"superseded by {by_file}, which is not suspect",
                )
            ).rowcount

    def mark_snapshot_applied(self, connection: str, source_file: str, now: datetime) -> bool:
        """``approved`` -> ``applied``: its levels are in the ledger."""
        with self._tx() as conn:
            return bool(
                conn.execute(
                    update(snapshots)
                    .where(
                        snapshots.c.connection == connection,
                        snapshots.c.source_file == source_file,
                        snapshots.c.state == "approved",
                    )
                    .values(state="applied", applied_at=now)
                ).rowcount
            )

    # -- what the guard and the inventory transform read ------------------------------------
    def published_quantities(self, connection: str) -> dict[str, int]:
        """Warehouse SKU -> quantity the store last accepted (bundles, which the warehouse
        never reports, left out)."""
        with self._tx() as conn:
            rows = conn.execute(
                select(inventory.c.sku, inventory.c.pushed_quantity).where(
                    inventory.c.connection == connection,
                    inventory.c.warehouse_available.is_not(None),
                    inventory.c.pushed_quantity.is_not(None),
                )
            ).all()
        return {r.sku: r.pushed_quantity for r in rows}

    def set_bundle_targets(self, connection: str, targets: dict[str, int]) -> None:
        """Store SKU of each bundle -> quantity to publish (a row without a warehouse figure)."""
        with self._tx() as conn:
            for sku, quantity in sorted(targets.items()):
                row = {"connection": connection, "sku": sku, "target_quantity": quantity}
                if not conn.execute(
                    self._insert(inventory).values(row).on_conflict_do_nothing()
                ).rowcount:
                    conn.execute(
                        update(inventory)
                        .where(
                            inventory.c.connection == connection,
                            inventory.c.sku == sku,
                            inventory.c.warehouse_available.is_(None),
                        )
                        .values(target_quantity=quantity)
                    )

    def in_flight_units(self, connection: str) -> dict[str, int]:
        """Warehouse SKU -> units in orders sent to the warehouse and not shipped yet."""
        with self._tx() as conn:
            rows = conn.execute(
                select(orders.c.payload).where(
                    orders.c.connection == connection, orders.c.state.in_(IN_FLIGHT_STATES)
                )
            ).all()
        units: dict[str, int] = {}
        for row in rows:
            for line in _json(row.payload).get("lines") or []:
                units[line["sku"]] = units.get(line["sku"], 0) + int(line["quantity"])
        return units

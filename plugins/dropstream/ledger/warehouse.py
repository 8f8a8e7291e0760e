"""What came back from the warehouse: shipments, inventory, files read; and watermarks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
    update,
)

from dropstream.codec import shipment_from_dict, shipment_to_dict
from dropstream.ledger.base import LedgerBase, _aware, _json
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.schema import counters, inventory, seen_files, shipments, watermarks
from dropstream.models import Shipment


class WarehouseBook(LedgerBase):
    """Shipments pushed, inventory levels pushed, warehouse files read, watermarks, counters."""

    # -- shipments ------------------------------------------------------------------------
    def record_shipments(
        self,
        connection: str,
        found: Iterable[Shipment],
        source_file: str,
        now: datetime,
        *,
        state: str = "received",
        reason: str = "",
        run: str = "",
    ) -> list[Shipment]:
        """Insert shipments not seen before (in ``state``); return the ones that were new.

        Each new one is written to its order's timeline (``unknown_shipment`` when kept as
        ``unknown_order``, with the reason).
        """
        new = []
        event = "unknown_shipment" if state == "unknown_order" else "shipment_received"
        with self._tx() as conn:
            for shipment in found:
                if conn.execute(
                    self._insert(shipments)
                    .values(
                        connection=connection,
                        shipment_key=shipment.key,
                        order_number=shipment.order_number,
                        state=state,
                        reason=reason,
                        source_file=source_file,
                        payload=shipment_to_dict(shipment),
                        received_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing()
                ).rowcount:
                    new.append(shipment)
                    detail = f"{_package(shipment)} in {source_file}"
                    write_events(
                        conn,
                        [
                            event_row(
                                connection,
                                shipment.order_id,
                                shipment.order_number,
                                event,
                                now,
                                f"{detail}: {reason}" if reason else detail,
                                run=run,
                            )
                        ],
                    )
        return new

    def hand_over_shipment(
        self,
        holder: str,
        key: str,
        owner: str,
        shipment: Shipment,
        now: datetime,
        *,
        run: str = "",
    ) -> bool:
        """Give an ``unknown_order`` shipment kept under ``holder`` to the connection that sent
        its order (as ``received``); False when another run already did. One transaction."""
        with self._tx() as conn:
            received = event_row(
                owner,
                shipment.order_id,
                shipment.order_number,
                "shipment_received",
                now,
                f"{_package(shipment)}, kept as unknown until its order turned up",
                run=run,
            )
            if holder == owner and key == shipment.key:
                renamed = bool(
                    conn.execute(
                        update(shipments)
                        .where(
                            shipments.c.connection == holder,
                            shipments.c.shipment_key == key,
                            shipments.c.state == "unknown_order",
                        )
                        .values(
                            state="received",
                            reason="",
                            payload=shipment_to_dict(shipment),
                            updated_at=now,
                        )
                    ).rowcount
                )
                write_events(conn, [received] if renamed else [])
                return renamed
            moved = conn.execute(
                update(shipments)
                .where(
                    shipments.c.connection == holder,
                    shipments.c.shipment_key == key,
                    shipments.c.state == "unknown_order",
                )
                .values(
                    state="handed_over", reason=f"belongs to connection {owner}", updated_at=now
                )
            ).rowcount
            if not moved:
                return False
            source = conn.execute(
                select(shipments.c.source_file).where(
                    shipments.c.connection == holder, shipments.c.shipment_key == key
                )
            ).scalar_one()
            conn.execute(
                self._insert(shipments)
                .values(
                    connection=owner,
                    shipment_key=shipment.key,
                    order_number=shipment.order_number,
                    state="received",
                    reason="",
                    source_file=source,
                    payload=shipment_to_dict(shipment),
                    received_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing()
            )
            write_events(conn, [received])
        return True

    def shipments_in_state(self, connection: str, *states: str) -> list[tuple[Shipment, str]]:
        with self._tx() as conn:
            rows = conn.execute(
                select(shipments.c.payload, shipments.c.state)
                .where(shipments.c.connection == connection, shipments.c.state.in_(states))
                .order_by(shipments.c.received_at, shipments.c.shipment_key)
            ).all()
        return [(shipment_from_dict(_json(r.payload)), r.state) for r in rows]

    def set_shipment_state(
        self,
        connection: str,
        shipment: Shipment,
        state: str,
        now: datetime,
        *,
        expected: Sequence[str],
        reason: str = "",
        platform_id: str | None = None,
        run: str = "",
    ) -> int:
        """Move one shipment to ``state`` if it is in one of the ``expected`` states.

        Returns the rows changed (0 when another run moved it first). ``pushed`` and
        ``rejected`` are written to the order's timeline (``shipped`` / ``shipment_rejected``).
        """
        values: dict[str, Any] = {
            "state": state,
            "reason": reason,
            "updated_at": now,
            "payload": shipment_to_dict(shipment),
        }
        if platform_id is not None:
            values["platform_id"] = platform_id
        event = {"pushed": "shipped", "rejected": "shipment_rejected"}.get(state)
        with self._tx() as conn:
            moved = conn.execute(
                update(shipments)
                .where(
                    shipments.c.connection == connection,
                    shipments.c.shipment_key == shipment.key,
                    shipments.c.state.in_(tuple(expected)),
                )
                .values(**values)
            ).rowcount
            if moved and event:
                detail = _package(shipment) + (f": {reason}" if reason else "")
                write_events(
                    conn,
                    [
                        event_row(
                            connection,
                            shipment.order_id,
                            shipment.order_number,
                            event,
                            now,
                            detail,
                            run=run,
                        )
                    ],
                )
            return moved

    def shipment_counts(self, connection: str) -> dict[str, int]:
        from sqlalchemy import func

        with self._tx() as conn:
            rows = conn.execute(
                select(shipments.c.state, func.count())
                .where(shipments.c.connection == connection)
                .group_by(shipments.c.state)
            ).all()
        return {state: count for state, count in rows}

    # -- inventory ------------------------------------------------------------------------
    def record_warehouse_levels(
        self, connection: str, levels: Iterable[tuple[str, int, datetime]], source_file: str
    ) -> int:
        """Store (sku, available, as_of) where newer than what is stored: newest snapshot wins."""
        changed = 0
        with self._tx() as conn:
            for sku, available, as_of in levels:
                row = {
                    "connection": connection,
                    "sku": sku,
                    "warehouse_available": available,
                    "as_of": as_of,
                    "source_file": source_file,
                }
                if conn.execute(
                    self._insert(inventory).values(row).on_conflict_do_nothing()
                ).rowcount:
                    changed += 1
                    continue
                changed += conn.execute(
                    update(inventory)
                    .where(
                        inventory.c.connection == connection,
                        inventory.c.sku == sku,
                        (inventory.c.as_of.is_(None)) | (inventory.c.as_of <= as_of),
                    )
                    .values(warehouse_available=available, as_of=as_of, source_file=source_file)
                ).rowcount
        return changed

    def warehouse_levels(self, connection: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = (
                conn.execute(
                    select(inventory)
                    .where(inventory.c.connection == connection)
                    .order_by(inventory.c.sku)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def set_targets(self, connection: str, targets: dict[str, int]) -> None:
        with self._tx() as conn:
            for sku, quantity in targets.items():
                conn.execute(
                    update(inventory)
                    .where(inventory.c.connection == connection, inventory.c.sku == sku)
                    .values(target_quantity=quantity)
                )

    def inventory_to_push(self, connection: str) -> dict[str, int]:
        """SKU -> target quantity where the target differs from the last value pushed."""
        with self._tx() as conn:
            rows = conn.execute(
                select(inventory.c.sku, inventory.c.target_quantity)
                .where(
                    inventory.c.connection == connection,
                    inventory.c.target_quantity.is_not(None),
                    inventory.c.pushed_quantity.is_(None)
                    | (inventory.c.pushed_quantity != inventory.c.target_quantity),
                )
                .order_by(inventory.c.sku)
            ).all()
        return {r.sku: r.target_quantity for r in rows}

    def record_inventory_pushed(
        self, connection: str, pushed: dict[str, int], now: datetime
    ) -> None:
        with self._tx() as conn:
            for sku, quantity in pushed.items():
                conn.execute(
                    update(inventory)
                    .where(inventory.c.connection == connection, inventory.c.sku == sku)
                    .values(pushed_quantity=quantity, pushed_at=now)
                )

    # -- files read from the warehouse, watermarks, counters -------------------------------
    def file_state(self, connection: str, flow: str, file_name: str) -> str | None:
        with self._tx() as conn:
            return conn.execute(
                select(seen_files.c.state).where(
                    seen_files.c.connection == connection,
                    seen_files.c.flow == flow,
                    seen_files.c.file_name == file_name,
                )
            ).scalar()

    def mark_seen(
        self,
        connection: str,
        flow: str,
        file_name: str,
        state: str,
        now: datetime,
        detail: str = "",
    ) -> None:
        row = {
            "connection": connection,
            "flow": flow,
            "file_name": file_name,
            "state": state,
            "detail": detail,
            "seen_at": now,
        }
        stmt = self._insert(seen_files).values(row)
        with self._tx() as conn:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["connection", "flow", "file_name"],
                    set_={"state": state, "detail": detail, "seen_at": now},
                )
            )

    def files_in_state(self, connection: str, flow: str, state: str) -> list[str]:
        with self._tx() as conn:
            return list(
                conn.execute(
                    select(seen_files.c.file_name)
                    .where(
                        seen_files.c.connection == connection,
                        seen_files.c.flow == flow,
                        seen_files.c.state == state,
                    )
                    .order_by(seen_files.c.seen_at)
                ).scalars()
            )

    def watermark(self, connection: str, flow: str) -> datetime | None:
        with self._tx() as conn:
            return _aware(
                conn.execute(
                    select(watermarks.c.value).where(
                        watermarks.c.connection == connection, watermarks.c.flow == flow
                    )
                ).scalar()
            )

    def advance_watermark(self, connection: str, flow: str, value: datetime) -> datetime:
        """Move the watermark forward to ``value`` (never back); return the watermark now."""
        with self._tx() as conn:
            inserted = conn.execute(
                self._insert(watermarks)
                .values(connection=connection, flow=flow, value=value)
                .on_conflict_do_nothing()
            ).rowcount
            if not inserted:
                conn.execute(
                    update(watermarks)
                    .where(
                        watermarks.c.connection == connection,
                        watermarks.c.flow == flow,
                        watermarks.c.value < value,
                    )
                    .values(value=value)
                )
        current = self.watermark(connection, flow)
        assert current is not None
        return current

    def next_counter(self, connection: str, name: str) -> int:
        """Increment and return a persistent per-connection counter (e.g. X12 control numbers)."""
        with self._tx() as conn:
            conn.execute(
                self._insert(counters)
                .values(connection=connection, name=name, value=0)
                .on_conflict_do_nothing()
            )
            conn.execute(
                update(counters)
                .where(counters.c.connection == connection, counters.c.name == name)
                .values(value=counters.c.value + 1)
            )
            return int(
                conn.execute(
                    select(counters.c.value).where(
                        counters.c.connection == connection, counters.c.name == name
                    )
                ).scalar_one()
            )


def _package(shipment: Shipment) -> str:
    units = sum(line.quantity for line in shipment.lines)
    carrier = " ".join(p for p in (shipment.carrier, shipment.service) if p)
    return f"{carrier or 'carrier not given'} tracking {shipment.tracking_number}, {units} unit(s)"

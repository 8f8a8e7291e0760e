"""Exactly-once state: orders, published files, pushed shipments and inventory, watermarks.

SQLAlchemy 2 Core over ``DROPSTREAM_LEDGER_URL`` (default: SQLite under ``AIRFLOW_HOME``;
PostgreSQL in production). Every table is keyed by (connection, natural key), so a duplicate
is impossible, not merely unlikely: inserts are insert-if-absent and state changes are
conditional updates from the expected previous state.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from dropstream.codec import order_from_dict, order_to_dict, shipment_from_dict, shipment_to_dict
from dropstream.errors import LedgerConflictError
from dropstream.models import Order, Shipment

metadata = MetaData()


def _conn_col() -> Column[str]:
    return Column("connection", String(200), primary_key=True)


def _time(name: str, **kw: Any) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), **kw)


orders = Table(
    "ds_orders",
    metadata,
    _conn_col(),
    Column("order_id", String(200), primary_key=True),
    Column("number", String(100), nullable=False, index=True),
    # received -> held | skipped | ready -> in_file -> published -> shipped | cancelled
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("file_name", String(255)),
    Column("payload", JSON, nullable=False),
    _time("received_at", nullable=False),
    _time("updated_at", nullable=False),
)
files = Table(
    "ds_files",
    metadata,
    _conn_col(),
    Column("file_name", String(255), primary_key=True),
    Column("folder", String(500), nullable=False),
    # staged (upload may be incomplete) -> committing (upload complete, rename next) -> published
    Column("state", String(20), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("order_count", Integer, nullable=False),
    _time("created_at", nullable=False),
    _time("published_at"),
)
shipments = Table(
    "ds_shipments",
    metadata,
    _conn_col(),
    Column("shipment_key", String(400), primary_key=True),
    Column("order_number", String(100), nullable=False, index=True),
    # received -> unknown_order | ready -> pushing -> pushed | rejected
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("source_file", String(255), nullable=False),
    Column("platform_id", String(200)),
    Column("payload", JSON, nullable=False),
    _time("received_at", nullable=False),
    _time("updated_at", nullable=False),
)
inventory = Table(
    "ds_inventory",
    metadata,
    _conn_col(),
    Column("sku", String(200), primary_key=True),
    Column("warehouse_available", Integer),
    _time("as_of"),
    Column("source_file", String(255)),
    Column("target_quantity", Integer),
    Column("pushed_quantity", Integer),
    _time("pushed_at"),
)
seen_files = Table(
    "ds_seen_files",
    metadata,
    _conn_col(),
    Column("flow", String(20), primary_key=True),
    Column("file_name", String(255), primary_key=True),
    Column("state", String(20), nullable=False),  # read -> archived | error
    Column("detail", Text, nullable=False, default=""),
    _time("seen_at", nullable=False),
)
watermarks = Table(
    "ds_watermarks",
    metadata,
    _conn_col(),
    Column("flow", String(20), primary_key=True),
    _time("value", nullable=False),
)
counters = Table(
    "ds_counters",
    metadata,
    _conn_col(),
    Column("name", String(100), primary_key=True),
    Column("value", Integer, nullable=False),
)


def default_url() -> str:
    """``DROPSTREAM_LEDGER_URL``, else a SQLite file under ``AIRFLOW_HOME``."""
    url = os.environ.get("DROPSTREAM_LEDGER_URL")
    if url:
        return url
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'dropstream_ledger.db'}"


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Ledger:
    """The exactly-once store for every connection."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = url or default_url()
        self.engine = engine or create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

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

    # -- shipments ------------------------------------------------------------------------
    def record_shipments(
        self, connection: str, found: Iterable[Shipment], source_file: str, now: datetime
    ) -> int:
        """Insert shipments not seen before (state ``received``); return how many were new."""
        new = 0
        with self._tx() as conn:
            for shipment in found:
                new += conn.execute(
                    self._insert(shipments)
                    .values(
                        connection=connection,
                        shipment_key=shipment.key,
                        order_number=shipment.order_number,
                        state="received",
                        reason="",
                        source_file=source_file,
                        payload=shipment_to_dict(shipment),
                        received_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing()
                ).rowcount
        return new

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
        reason: str = "",
        platform_id: str | None = None,
        from_states: Sequence[str] | None = None,
    ) -> int:
        query = update(shipments).where(
            shipments.c.connection == connection, shipments.c.shipment_key == shipment.key
        )
        if from_states is not None:
            query = query.where(shipments.c.state.in_(tuple(from_states)))
        values: dict[str, Any] = {
            "state": state,
            "reason": reason,
            "updated_at": now,
            "payload": shipment_to_dict(shipment),
        }
        if platform_id is not None:
            values["platform_id"] = platform_id
        with self._tx() as conn:
            return conn.execute(query.values(**values)).rowcount

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


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

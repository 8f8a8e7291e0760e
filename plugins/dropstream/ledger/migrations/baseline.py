"""The ledger's tables as revision 0001 creates them: a frozen copy of ``schema.py`` at 132d2be.

Never edit: this is what every ledger made before migrations existed holds (``create_all`` of
that schema), and what ``upgrade`` checks such a ledger against before stamping it 0001.
Schema changes are new revisions in ``versions/``, not edits here.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


def _when(name: str, nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _connection() -> Column:  # type: ignore[type-arg]
    return Column("connection", String(200), primary_key=True)


Table(
    "ds_orders",
    metadata,
    _connection(),
    Column("order_id", String(200), primary_key=True),
    Column("number", String(100), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("file_name", String(255)),
    Column("payload", JSON, nullable=False),
    _when("received_at", nullable=False),
    _when("updated_at", nullable=False),
)
Table(
    "ds_files",
    metadata,
    _connection(),
    Column("file_name", String(255), primary_key=True),
    Column("folder", String(500), nullable=False),
    Column("state", String(20), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("order_count", Integer, nullable=False),
    _when("created_at", nullable=False),
    _when("published_at"),
)
Table(
    "ds_shipments",
    metadata,
    _connection(),
    Column("shipment_key", String(400), primary_key=True),
    Column("order_number", String(100), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("source_file", String(255), nullable=False),
    Column("platform_id", String(200)),
    Column("payload", JSON, nullable=False),
    _when("received_at", nullable=False),
    _when("updated_at", nullable=False),
)
Table(
    "ds_inventory",
    metadata,
    _connection(),
    Column("sku", String(200), primary_key=True),
    Column("warehouse_available", Integer),
    _when("as_of"),
    Column("source_file", String(255)),
    Column("target_quantity", Integer),
    Column("pushed_quantity", Integer),
    _when("pushed_at"),
)
Table(
    "ds_seen_files",
    metadata,
    _connection(),
    Column("flow", String(20), primary_key=True),
    Column("file_name", String(255), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("detail", Text, nullable=False),
    _when("seen_at", nullable=False),
)
Table(
    "ds_watermarks",
    metadata,
    _connection(),
    Column("flow", String(20), primary_key=True),
    _when("value", nullable=False),
)
Table(
    "ds_counters",
    metadata,
    _connection(),
    Column("name", String(100), primary_key=True),
    Column("value", Integer, nullable=False),
)

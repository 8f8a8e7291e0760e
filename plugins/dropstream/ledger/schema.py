"""The ledger's tables: every one keyed by (connection, natural key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

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
    # received -> held | skipped | ready -> in_file -> published -> shipped; cancelled (never
    # sent); published -> cancelling (in a cancel file) -> cancel_sent (the warehouse was told)
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("file_name", String(255)),
    Column("payload", JSON, nullable=False),
    _time("received_at", nullable=False),
    _time("updated_at", nullable=False),
    # The order number as written in the warehouse's files (rules.order_number_prefix + number),
    # set when the order becomes ready: shipments coming back are matched on it.
    Column("warehouse_number", String(120), index=True),
    # The Airflow run whose extract first recorded the order (its run SUMMARY counts it).
    Column("received_run", String(250)),
    Index("ix_ds_orders_received_run", "connection", "received_run"),
    # Cancelled in the store (or by an operator) after the warehouse had it: when, why, and the
    # cancel file that tells the warehouse (set when the order is claimed into one).
    _time("cancel_requested_at"),
    Column("cancel_reason", Text),
    Column("cancel_file", String(255)),
    # sha256 of the order's lines and ship-to as the store showed them (fingerprint_basis) when
    # last fetched before sending: a later fetch that differs after sending is changed_after_send.
    Column("fingerprint", String(64)),
    Column("fingerprint_basis", JSON),
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
    # orders (an order file) | cancel (a cancel file: the warehouse cancels the orders in it)
    Column("kind", String(10), nullable=False, server_default="orders"),
    _time("published_at"),
)
shipments = Table(
    "ds_shipments",
    metadata,
    _conn_col(),
    Column("shipment_key", String(400), primary_key=True),
    Column("order_number", String(100), nullable=False, index=True),
    # received -> ready -> pushing -> pushed | rejected; a shipment no connection sent is kept
    # unknown_order under the folder's key, then handed_over to the connection that sent it
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
# Append-only: what happened to each order, written by the ledger's own state changes (and by
# operator actions), so a person can read an order's life without the task logs.
order_events = Table(
    "ds_order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connection", String(200), nullable=False),
    # "" for a package whose order is not known yet (matched on order_number)
    Column("order_id", String(200), nullable=False),
    Column("order_number", String(120), nullable=False),
    _time("at", nullable=False),
    Column("event", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("run_id", String(250)),  # the Airflow run that did it
    Column("actor", String(200)),  # the person, for operator actions
    Index("ix_ds_order_events_order", "connection", "order_id"),
    Index("ix_ds_order_events_number", "connection", "order_number"),
)
leases = Table(
    "ds_leases",
    metadata,
    _conn_col(),
    Column("flow", String(20), primary_key=True),
    Column("holder", String(300), nullable=False),  # run, host, pid, random suffix
    _time("acquired_at", nullable=False),
    _time("expires_at", nullable=False),
)
alerts = Table(
    "ds_alerts",
    metadata,
    _conn_col(),
    # What happened, e.g. "failed:orders" or "held:<order id>"; a resolved incident's key gets
    # "@<resolved time>" appended, so the same trouble later is a new incident.
    Column("incident", String(500), primary_key=True),
    # How it is told ("email", "apprise"): each channel claims and sends on its own.
    Column("channel", String(20), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("text", Text, nullable=False),  # what the message says about it
    _time("opened_at", nullable=False),
    # A sender claims it before sending (cleared if sending fails; a claim older than
    # CLAIM_TIMEOUT is a dead sender's and may be taken over), then records it sent.
    _time("claimed_at"),
    _time("sent_at"),
    _time("resolved_at"),
)
reviews = Table(
    "ds_reviews",
    metadata,
    _conn_col(),
    # What a person is asked about: "held_orders" (subject = the order id) or
    # "suspect_snapshot" (subject = the kept snapshot's file name).
    Column("kind", String(40), primary_key=True),
    Column("subject", String(200), primary_key=True),
    # The batch asked together (one Required Action), and the dropstream_review run asking it.
    Column("review_id", String(64), nullable=False, index=True),
    Column("run_id", String(250)),
    Column("label", String(200), nullable=False),  # what a person calls it, e.g. "#1042"
    Column("detail", Text, nullable=False),  # why it is asked, e.g. the hold reason
    # asked -> answered | timed_out | moot (no longer held / waiting when the answer came)
    Column("state", String(20), nullable=False),
    Column("answer", String(40)),
    Column("actor", String(200)),  # who answered (None: nobody, the review timed out)
    _time("asked_at", nullable=False),
    _time("answered_at"),
)
# An inventory snapshot the guard would not publish (rules.zero_out_guard_pct): kept whole until
# a person approves it (applied on the next inventory run) or rejects it, or a newer snapshot
# that is not suspect supersedes it.
inventory_snapshots = Table(
    "ds_inventory_snapshots",
    metadata,
    _conn_col(),
    Column("source_file", String(255), primary_key=True),
    # suspect -> approved -> applied | rejected | superseded
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("levels", JSON, nullable=False),  # [[sku, available, as_of ISO], ...]
    _time("as_of", nullable=False),  # the newest level's time in it
    _time("kept_at", nullable=False),
    Column("kept_run", String(250)),
    _time("decided_at"),
    Column("decided_by", String(200)),
    Column("decision_note", Text),
    _time("applied_at"),
)
# Webhook deliveries received, by the platform's own key for the event (Shopify's
# X-Shopify-Event-Id, WooCommerce's delivery id and body digest, BigCommerce's payload hash): a
# repeat within REPLAY_WINDOW is a duplicate or a replay (dropstream.webhooks.repeat). Rows older
# than that count as never received, and are purged now and then.
webhook_deliveries = Table(
    "ds_webhook_deliveries",
    metadata,
    _conn_col(),
    Column("delivery_id", String(200), primary_key=True),
    _time("received_at", nullable=False, index=True),
)

"""Exactly-once state: orders, published files, pushed shipments and inventory, watermarks.

SQLAlchemy 2 Core over ``DROPSTREAM_LEDGER_URL`` (default: SQLite under ``AIRFLOW_HOME``;
PostgreSQL in production). Every table is keyed by (connection, natural key), so a duplicate
is impossible, not merely unlikely: inserts are insert-if-absent and state changes are
conditional updates from the expected previous state.
"""

from __future__ import annotations

from dropstream.ledger.actions import ActionBook
from dropstream.ledger.alerts import AlertBook
from dropstream.ledger.base import default_url
from dropstream.ledger.browse import BrowseBook
from dropstream.ledger.cancels import CancelBook
from dropstream.ledger.events import EVENTS, EventBook, OrderEvent
from dropstream.ledger.leases import Lease, LeaseBook
from dropstream.ledger.orders import OrderBook
from dropstream.ledger.resends import ResendBook
from dropstream.ledger.reviews import ReviewBook
from dropstream.ledger.schema import metadata
from dropstream.ledger.snapshots import SnapshotBook
from dropstream.ledger.warehouse import WarehouseBook
from dropstream.ledger.webhooks import WebhookBook

__all__ = ["EVENTS", "Lease", "Ledger", "OrderEvent", "default_url", "metadata"]


class Ledger(
    OrderBook,
    ActionBook,
    CancelBook,
    WarehouseBook,
    LeaseBook,
    EventBook,
    BrowseBook,
    AlertBook,
    ReviewBook,
    ResendBook,
    SnapshotBook,
    WebhookBook,
):
    """The exactly-once store for every connection."""

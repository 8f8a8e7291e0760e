"""Webhook deliveries received: a repeated delivery is recognised for REPLAY_WINDOW.

The receiver records a delivery here before it answers the store: once this commits, the
delivery counts as received, and a repeat of it starts nothing (``dropstream.webhooks.repeat``
tells a platform's duplicate from a replay by the time of the first receipt returned here).
A burst is recorded many deliveries to a transaction (``receive_deliveries``): one commit, one
disk flush, instead of one per delivery.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from dropstream.ledger.base import LedgerBase, _aware
from dropstream.ledger.schema import webhook_deliveries

#: How long a delivery key is remembered: longer than every platform's retry schedule
#: (BigCommerce retries for about two days), so a repeat inside it is never taken for new.
REPLAY_WINDOW = timedelta(days=3)
#: Expired keys are deleted at most this often (seconds), not on every delivery of a burst.
PURGE_EVERY = 600.0


class WebhookBook(LedgerBase):
    def receive_delivery(self, connection: str, key: str, now: datetime) -> datetime | None:
        """Record the delivery as received at ``now``; None if it is new, else when it was
        first received (within REPLAY_WINDOW: an older receipt counts as none)."""
        return self.receive_deliveries([(connection, key, now)])[0]

    def receive_deliveries(
        self, deliveries: Sequence[tuple[str, str, datetime]]
    ) -> list[datetime | None]:
        """``receive_delivery`` for each (connection, key, now), in one transaction."""
        if not deliveries:
            return []
        self._purge_expired(max(now for _, _, now in deliveries))
        with self._tx() as conn:
            return [self._receive(conn, *delivery) for delivery in deliveries]

    def _receive(
        self, conn: Connection, connection: str, key: str, now: datetime
    ) -> datetime | None:
        row = webhook_deliveries.c
        where = (row.connection == connection, row.delivery_id == key[:200])
        inserted = conn.execute(
            self._insert(webhook_deliveries)
            .values(connection=connection, delivery_id=key[:200], received_at=now)
            .on_conflict_do_nothing()
        ).rowcount
        if inserted:
            return None
        renewed = conn.execute(
            update(webhook_deliveries)
            .where(*where, row.received_at < now - REPLAY_WINDOW)
            .values(received_at=now)
        ).rowcount
        if renewed:
            return None
        return _aware(conn.execute(select(row.received_at).where(*where)).scalar_one())

    def _purge_expired(self, now: datetime) -> None:
        if time.monotonic() < getattr(self, "_purge_due", 0.0):
            return
        self._purge_due = time.monotonic() + PURGE_EVERY
        with self._tx() as conn:
            conn.execute(
                delete(webhook_deliveries).where(
                    webhook_deliveries.c.received_at < now - REPLAY_WINDOW
                )
            )

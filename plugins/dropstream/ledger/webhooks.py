"""Webhook deliveries already acted on: a replayed delivery is recognised for a day.

The receiver remembers a delivery before it records the asset event and forgets it again if
recording fails, so the platform's own retry of a delivery we could not act on is not mistaken
for a replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from dropstream.ledger.base import LedgerBase
from dropstream.ledger.schema import webhook_deliveries

#: How long a delivery id is remembered: longer than every platform's retry schedule that
#: matters here (Shopify retries for 4 hours) and as long as the issue asks.
REPLAY_WINDOW = timedelta(days=1)


class WebhookBook(LedgerBase):
    def remember_delivery(self, connection: str, delivery_id: str, now: datetime) -> bool:
        """Record the delivery; False if it was already recorded within REPLAY_WINDOW."""
        with self._tx() as conn:
            # Expired ids first, so an id seen more than a day ago counts as new again.
            conn.execute(
                delete(webhook_deliveries).where(
                    webhook_deliveries.c.received_at < now - REPLAY_WINDOW
                )
            )
            inserted = conn.execute(
                self._insert(webhook_deliveries)
                .values(connection=connection, delivery_id=delivery_id[:200], received_at=now)
                .on_conflict_do_nothing()
            ).rowcount
        return bool(inserted)

    def forget_delivery(self, connection: str, delivery_id: str) -> None:
        """Undo ``remember_delivery`` (the delivery could not be acted on: let its retry in)."""
        with self._tx() as conn:
            conn.execute(
                delete(webhook_deliveries).where(
                    webhook_deliveries.c.connection == connection,
                    webhook_deliveries.c.delivery_id == delivery_id[:200],
                )
            )

"""Alert incidents: what was reported to whom, so each incident is told once.

An incident is keyed by (holder, incident key, channel): the holder is the connection, or the
shared folder's key for trouble found in a folder several connections read; each channel
(e-mail, Apprise) tells it once, on its own. Opening is insert-if-absent; a sender
*claims* unsent incidents (``claimed_at`` set only where nobody holds a live claim) before it
sends and records ``sent_at`` after, so two runs never send the same one; a failed send gives
the claim back, and a claim older than ``CLAIM_TIMEOUT`` (its sender died) is taken over.
Resolving renames the key (``<key>@<time>``): the same trouble later is a new incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from dropstream.ledger.base import LedgerBase, _aware
from dropstream.ledger.schema import alerts, orders, seen_files, shipments

#: A claim this old without ``sent_at`` belongs to a sender that died: another may take it.
CLAIM_TIMEOUT = timedelta(minutes=10)


class AlertBook(LedgerBase):
    """Incidents opened, claimed, sent and resolved; and the ledger facts alerts are made of."""

    def open_incidents(
        self,
        holder: str,
        found: Iterable[tuple[str, str, str]],
        now: datetime,
        channels: Sequence[str] = ("email",),
    ) -> list[str]:
        """Record ``(key, kind, text)`` incidents not open yet on ``channels``; return the keys
        that were new on any of them."""
        new = []
        with self._tx() as conn:
            for key, kind, text in found:
                for channel in channels:
                    if (
                        conn.execute(
                            self._insert(alerts)
                            .values(
                                connection=holder,
                                incident=key,
                                channel=channel,
                                kind=kind,
                                text=text,
                                opened_at=now,
                            )
                            .on_conflict_do_nothing()
                        ).rowcount
                        and key not in new
                    ):
                        new.append(key)
        return new

    def claim_unsent(
        self, holder: str, now: datetime, channel: str = "email"
    ) -> list[dict[str, Any]]:
        """Open incidents nobody has sent on ``channel`` yet, each claimed by this caller."""
        free = or_(alerts.c.claimed_at.is_(None), alerts.c.claimed_at < now - CLAIM_TIMEOUT)
        with self._tx() as conn:
            rows = conn.execute(
                select(alerts.c.incident, alerts.c.kind, alerts.c.text, alerts.c.opened_at)
                .where(
                    alerts.c.connection == holder,
                    alerts.c.channel == channel,
                    alerts.c.sent_at.is_(None),
                    alerts.c.resolved_at.is_(None),
                    free,
                )
                .order_by(alerts.c.opened_at, alerts.c.incident)
            ).all()
            claimed = []
            for row in rows:
                if conn.execute(
                    update(alerts)
                    .where(
                        alerts.c.connection == holder,
                        alerts.c.incident == row.incident,
                        alerts.c.channel == channel,
                        alerts.c.sent_at.is_(None),
                        free,
                    )
                    .values(claimed_at=now)
                ).rowcount:
                    claimed.append({**row._asdict(), "opened_at": _aware(row.opened_at)})
        return claimed

    def mark_sent(
        self, holder: str, keys: Sequence[str], now: datetime, channel: str = "email"
    ) -> None:
        """Record claimed incidents as told on ``channel``."""
        with self._tx() as conn:
            conn.execute(
                update(alerts)
                .where(
                    alerts.c.connection == holder,
                    alerts.c.channel == channel,
                    alerts.c.incident.in_(list(keys)),
                )
                .values(sent_at=now)
            )

    def release_claims(self, holder: str, keys: Sequence[str], channel: str = "email") -> None:
        """Give back claims whose message could not be sent: the next run sends them."""
        with self._tx() as conn:
            conn.execute(
                update(alerts)
                .where(
                    alerts.c.connection == holder,
                    alerts.c.channel == channel,
                    alerts.c.incident.in_(list(keys)),
                    alerts.c.sent_at.is_(None),
                )
                .values(claimed_at=None)
            )

    def resolve_incidents(self, holder: str, keys: Iterable[str], now: datetime) -> int:
        """Close open incidents: their trouble is over; the same trouble again is a new one."""
        closed = 0
        with self._tx() as conn:
            for key in keys:
                closed += conn.execute(
                    update(alerts)
                    .where(
                        alerts.c.connection == holder,
                        alerts.c.incident == key,
                        alerts.c.resolved_at.is_(None),
                    )
                    .values(incident=f"{key}@{now.isoformat()}", resolved_at=now)
                ).rowcount
        return closed

    def open_incident_keys(self, holder: str, kind: str) -> list[str]:
        with self._tx() as conn:
            return list(
                conn.execute(
                    select(alerts.c.incident)
                    .distinct()
                    .where(
                        alerts.c.connection == holder,
                        alerts.c.kind == kind,
                        alerts.c.resolved_at.is_(None),
                    )
                ).scalars()
            )

    def incidents(self, holder: str) -> list[dict[str, Any]]:
        """Every incident of ``holder``, open and resolved, oldest first."""
        with self._tx() as conn:
            return [
                row._asdict()
                for row in conn.execute(
                    select(alerts)
                    .where(alerts.c.connection == holder)
                    .order_by(alerts.c.opened_at, alerts.c.incident, alerts.c.channel)
                )
            ]

    # -- the facts alerts are made of ------------------------------------------------------
    def held_before(self, connection: str, before: datetime) -> list[dict[str, Any]]:
        """Orders held since before ``before``: id, number, reason and since when."""
        with self._tx() as conn:
            return [
                {**row._asdict(), "since": _aware(row.since)}
                for row in conn.execute(
                    select(
                        orders.c.order_id,
                        orders.c.number,
                        orders.c.reason,
                        orders.c.updated_at.label("since"),
                    )
                    .where(
                        orders.c.connection == connection,
                        orders.c.state == "held",
                        orders.c.updated_at < before,
                    )
                    .order_by(orders.c.updated_at, orders.c.number)
                )
            ]

    def unknown_shipments(self, holder: str) -> list[dict[str, Any]]:
        """Shipments kept as ``unknown_order`` under ``holder``, with the file they came in."""
        with self._tx() as conn:
            return [
                row._asdict()
                for row in conn.execute(
                    select(
                        shipments.c.shipment_key,
                        shipments.c.order_number,
                        shipments.c.source_file,
                        shipments.c.reason,
                    )
                    .where(shipments.c.connection == holder, shipments.c.state == "unknown_order")
                    .order_by(shipments.c.received_at, shipments.c.shipment_key)
                )
            ]

    def error_files(self, holder: str) -> list[dict[str, Any]]:
        """Warehouse files moved to the error folder, with why."""
        with self._tx() as conn:
            return [
                row._asdict()
                for row in conn.execute(
                    select(seen_files.c.flow, seen_files.c.file_name, seen_files.c.detail)
                    .where(seen_files.c.connection == holder, seen_files.c.state == "error")
                    .order_by(seen_files.c.seen_at, seen_files.c.file_name)
                )
            ]

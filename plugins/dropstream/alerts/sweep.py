"""Turn what the ledger knows into incidents, and deliver the incidents nobody has sent yet.

Runs after every successful step of a flow (``dropstream.tasks``) and from the failure and
deadline callbacks. It never fails the step: trouble sending is logged and retried next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dropstream.alerts import incidents as said
from dropstream.alerts.incidents import Incident, Message

if TYPE_CHECKING:
    from dropstream.ledger import Ledger
    from dropstream.spec import ConnectionSpec

log = logging.getLogger("dropstream")

#: Sends one message to the recipients on one channel; raises when it could not.
Send = Callable[["Recipients", Message], None]
#: Where each channel's messages go, and which Airflow Connection an operator should check.
CHANNEL_CONNECTIONS = {"email": "dropstream_smtp", "apprise": "dropstream_apprise"}


def _send_email(to: Recipients, message: Message) -> None:
    from dropstream.alerts.notify import send_email

    send_email(to.emails, message)


def _send_apprise(to: Recipients, message: Message) -> None:
    from dropstream.alerts.notify import send_apprise

    send_apprise(to.apprise_tags, message)


SENDERS: dict[str, Send] = {"email": _send_email, "apprise": _send_apprise}


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who hears about a connection's incidents, on which channels, and how messages name it."""

    connection: str
    merchant: str
    emails: tuple[str, ...]
    apprise_tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: ConnectionSpec) -> Recipients:
        alerts = spec.alerts
        return cls(spec.name, spec.merchant, tuple(alerts.emails), tuple(alerts.apprise_tags))

    @property
    def channels(self) -> tuple[str, ...]:
        return (("email",) if self.emails else ()) + (("apprise",) if self.apprise_tags else ())


def sync_kind(
    ledger: Ledger,
    holder: str,
    kind: str,
    found: list[Incident],
    now: datetime,
    channels: Sequence[str],
) -> None:
    """Open the incidents of ``kind`` found now; resolve the open ones no longer found."""
    ledger.open_incidents(holder, (i.row() for i in found), now, channels)
    current = {i.key for i in found}
    gone = [k for k in ledger.open_incident_keys(holder, kind) if k not in current]
    ledger.resolve_incidents(holder, gone, now)


def sweep(
    spec: ConnectionSpec,
    ledger: Ledger,
    flow: str,
    step: str,
    now: datetime,
    *,
    folder: tuple[str, str] | None = None,
    senders: dict[str, Send] = SENDERS,
) -> int:
    """Record the trouble the ledger shows for ``flow``, then deliver; returns messages sent.

    ``folder`` is ``(path, ledger key)`` of the warehouse folder the flow reads (tracking,
    inventory): its unknown shipments and error files are kept under that key, which several
    connections may share; whichever connection sweeps first tells it, once.
    """
    to = Recipients.of(spec)
    channels = to.channels
    if not channels:
        return 0
    holders = [spec.name]
    if flow == "orders":
        before = now - timedelta(hours=spec.alerts.held_hours)
        held = said.held_orders(
            spec.name, ledger.held_before(spec.name, before), spec.alerts.held_hours, now
        )
        sync_kind(ledger, spec.name, "held", held, now, channels)
        still = ledger.held_before(spec.name, now)
        daily = said.held_daily(spec.name, still, spec.alerts.held_hours, now)
        sync_kind(ledger, spec.name, "held_daily", daily, now, channels)
    elif folder is not None:
        path, key = folder
        error_folder = f"{spec.warehouse.paths.archive.rstrip('/')}/error"
        files = [f for f in ledger.error_files(key) if f["flow"] == flow]
        errors = said.error_files(spec.name, error_folder, files)
        ledger.open_incidents(key, (i.row() for i in errors), now, channels)
        if flow == "inventory":
            waiting = ledger.suspect_snapshots(spec.name)
            kept = said.suspect_snapshots(spec.name, waiting)
            sync_kind(ledger, spec.name, "suspect_snapshot", kept, now, channels)
            daily = said.suspect_daily(spec.name, waiting, now)
            sync_kind(ledger, spec.name, "suspect_daily", daily, now, channels)
        if flow == "tracking":
            for holder in dict.fromkeys((key, spec.name)):
                unknown = said.unknown_shipments(spec.name, path, ledger.unknown_shipments(holder))
                sync_kind(ledger, holder, "unknown_shipment", unknown, now, channels)
        holders = list(dict.fromkeys((spec.name, key)))
    if step == "load":  # the flow succeeded: its failure (and lateness) is over
        ledger.resolve_incidents(spec.name, [f"failed:{flow}", f"overdue:{flow}"], now)
    return sum(deliver(to, ledger, holder, now, senders=senders) for holder in holders)


def deliver(
    to: Recipients,
    ledger: Ledger,
    holder: str,
    now: datetime,
    *,
    senders: dict[str, Send] = SENDERS,
) -> int:
    """Claim ``holder``'s unsent incidents on each channel and send them (one message each, or
    a digest); returns the number of messages sent. A failed send gives its claims back."""
    sent = 0
    for channel in to.channels:
        claimed = ledger.claim_unsent(holder, now, channel)
        found = [Incident(row["incident"], row["kind"], row["text"]) for row in claimed]
        for message in said.compose(to.connection, to.merchant, found):
            keys = [i.key for i in found if i.text in message.text]
            try:
                senders[channel](to, message)
            except Exception as exc:  # noqa: BLE001 - any trouble sending: keep it for later
                log.warning(
                    "connection %s: %s alert not sent (%s: %s); it is retried on the next run. "
                    "Check the Airflow Connection %s (docs/operations.md). Alert: %s",
                    to.connection,
                    channel,
                    type(exc).__name__,
                    exc,
                    CHANNEL_CONNECTIONS[channel],
                    message.subject,
                )
                ledger.release_claims(holder, keys, channel)
                continue
            ledger.mark_sent(holder, keys, now, channel)
            sent += 1
            log.info("connection %s: %s alert sent: %s", to.connection, channel, message.subject)
    return sent

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

Send = Callable[[Sequence[str], Message], None]


def _default_send(to: Sequence[str], message: Message) -> None:
    from dropstream.alerts.notify import send_email

    send_email(to, message)


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who hears about a connection's incidents, and how messages name it."""

    connection: str
    merchant: str
    emails: tuple[str, ...]

    @classmethod
    def of(cls, spec: ConnectionSpec) -> Recipients:
        return cls(spec.name, spec.merchant, tuple(spec.alerts.emails))


def sync_kind(ledger: Ledger, holder: str, kind: str, found: list[Incident], now: datetime) -> None:
    """Open the incidents of ``kind`` found now; resolve the open ones no longer found."""
    ledger.open_incidents(holder, (i.row() for i in found), now)
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
    send: Send = _default_send,
) -> int:
    """Record the trouble the ledger shows for ``flow``, then deliver; returns messages sent.

    ``folder`` is ``(path, ledger key)`` of the warehouse folder the flow reads (tracking,
    inventory): its unknown shipments and error files are kept under that key, which several
    connections may share; whichever connection sweeps first tells it, once.
    """
    if not spec.alerts.emails:
        return 0
    holders = [spec.name]
    if flow == "orders":
        before = now - timedelta(hours=spec.alerts.held_hours)
        held = said.held_orders(
            spec.name, ledger.held_before(spec.name, before), spec.alerts.held_hours, now
        )
        sync_kind(ledger, spec.name, "held", held, now)
    elif folder is not None:
        path, key = folder
        error_folder = f"{spec.warehouse.paths.archive.rstrip('/')}/error"
        files = [f for f in ledger.error_files(key) if f["flow"] == flow]
        ledger.open_incidents(
            key, (i.row() for i in said.error_files(spec.name, error_folder, files)), now
        )
        if flow == "tracking":
            for holder in dict.fromkeys((key, spec.name)):
                unknown = said.unknown_shipments(spec.name, path, ledger.unknown_shipments(holder))
                sync_kind(ledger, holder, "unknown_shipment", unknown, now)
        holders = list(dict.fromkeys((spec.name, key)))
    if step == "load":  # the flow succeeded: its failure (and lateness) is over
        ledger.resolve_incidents(spec.name, [f"failed:{flow}", f"overdue:{flow}"], now)
    to = Recipients.of(spec)
    return sum(deliver(to, ledger, holder, now, send=send) for holder in holders)


def deliver(
    to: Recipients,
    ledger: Ledger,
    holder: str,
    now: datetime,
    *,
    send: Send = _default_send,
) -> int:
    """Claim ``holder``'s unsent incidents, send them (one each, or a digest); returns the
    number of messages sent. A failed send gives the claims back for the next run."""
    if not to.emails:
        return 0
    claimed = ledger.claim_unsent(holder, now)
    if not claimed:
        return 0
    found = [Incident(row["incident"], row["kind"], row["text"]) for row in claimed]
    sent = 0
    for message in said.compose(to.connection, to.merchant, found):
        keys = [i.key for i in found if i.text in message.text]
        try:
            send(to.emails, message)
        except Exception as exc:  # noqa: BLE001 - any SMTP trouble: keep the alert for later
            log.warning(
                "connection %s: alert not sent (%s: %s); it is retried on the next run. Check "
                "the Airflow Connection dropstream_smtp (docs/operations.md). Alert: %s",
                to.connection,
                type(exc).__name__,
                exc,
                message.subject,
            )
            ledger.release_claims(holder, keys)
            continue
        ledger.mark_sent(holder, keys, now)
        sent += 1
        log.info("connection %s: alert sent to %s: %s", to.connection, to.emails, message.subject)
    return sent

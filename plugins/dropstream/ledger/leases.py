"""Leases: one run at a time acts for a connection's flow, whatever started the runs.

A lease is a row ``(connection, flow)`` naming its holder and when it expires. A run takes it
when the row is absent or expired, renews it every third of its life from a background thread
while it works, and deletes it when done. A holder that is killed stops renewing, so its lease
expires: nobody keeps one for ever. A holder that could not renew in time (the database was
unreachable, the process stalled) learns it at its next ``confirm()`` and stops before acting;
the flows confirm before every remote side effect. Works the same on SQLite and PostgreSQL.

A run that finds the lease taken waits for it (polling) up to ``wait`` seconds, then raises
``LeaseBusyError``, a TransientError: Airflow retries the task later, it never fails for good.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from dropstream.errors import LeaseBusyError, LeaseLostError
from dropstream.ledger.base import LedgerBase, _aware
from dropstream.ledger.schema import leases

log = logging.getLogger("dropstream")


def lease_seconds() -> float:
    """How long a lease lives unrenewed (``DROPSTREAM_LEASE_SECONDS``, default 120): a killed
    holder's lease is free after this."""
    return float(os.environ.get("DROPSTREAM_LEASE_SECONDS") or 120)


def lease_wait_seconds() -> float:
    """How long a run waits for a busy lease (``DROPSTREAM_LEASE_WAIT_SECONDS``, default 600)
    before this attempt ends and Airflow retries it."""
    return float(os.environ.get("DROPSTREAM_LEASE_WAIT_SECONDS") or 600)


def _now() -> datetime:
    return datetime.now(UTC)


class Lease:
    """A held lease; ``confirm()`` before every side effect that must not be done twice."""

    def __init__(self, book: LeaseBook, connection: str, flow: str, holder: str, ttl: float):
        self.book, self.connection, self.flow, self.holder = book, connection, flow, holder
        self.ttl = timedelta(seconds=ttl)
        self.expires_at = _now() + self.ttl
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew_until_stopped, name=f"lease {connection}/{flow}", daemon=True
        )

    def confirm(self) -> None:
        """Raise LeaseLostError unless the lease is held with a third of its life left."""
        if self.lost or _now() > self.expires_at - self.ttl / 3:
            self.lost = True
            raise LeaseLostError(
                f"connection {self.connection!r}: this run's {self.flow} lease was not renewed "
                "in time (database unreachable or the worker stalled); it stops here and the "
                "next attempt carries on where it left off"
            )

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                until = self.book._renew(self.connection, self.flow, self.holder, self.ttl)
            except Exception as exc:  # noqa: BLE001 - a failed renewal is noticed at confirm()
                log.warning(
                    "connection %s: could not renew the %s lease: %s",
                    self.connection,
                    self.flow,
                    exc,
                )
                continue
            if until is None:
                self.lost = True
                return
            self.expires_at = until


class LeaseBook(LedgerBase):
    """Taking, renewing and giving back the per-connection, per-flow leases."""

    @contextmanager
    def lease(
        self,
        connection: str,
        flow: str,
        *,
        run: str = "",
        ttl: float | None = None,
        wait: float | None = None,
    ) -> Iterator[Lease]:
        """Hold the ``(connection, flow)`` lease for the block; wait for it while it is taken."""
        ttl = lease_seconds() if ttl is None else ttl
        wait = lease_wait_seconds() if wait is None else wait
        holder = (
            f"{run or 'a run'} on {socket.gethostname()} pid {os.getpid()} #{uuid.uuid4().hex[:6]}"
        )
        seen: list[str] = []

        def free() -> bool:
            other = self._take(connection, flow, holder, timedelta(seconds=ttl))
            if other is not None and other not in seen:
                log.info(
                    "connection %s: waiting for the %s lease held by %s", connection, flow, other
                )
                seen.append(other)
            return other is None

        waiting = Retrying(
            retry=retry_if_result(lambda got: not got),
            wait=wait_fixed(min(1.0, max(ttl / 10, 0.05))),
            stop=stop_after_delay(wait),
            retry_error_callback=lambda _state: False,
        )
        if not waiting(free):
            raise LeaseBusyError(
                f"connection {connection!r}: another run ({seen[-1] if seen else '?'}) has held "
                f"the {flow} lease for over {wait:.0f} s; this attempt ends and Airflow retries it"
            )
        lease = Lease(self, connection, flow, holder, ttl)
        lease._thread.start()
        try:
            yield lease
        finally:
            lease._stop.set()
            lease._thread.join(timeout=5)
            self._give_back(connection, flow, holder)

    def lease_holder(self, connection: str, flow: str) -> str | None:
        """Who holds the lease now (None when free or expired)."""
        with self._tx() as conn:
            row = conn.execute(
                select(leases.c.holder, leases.c.expires_at).where(
                    leases.c.connection == connection, leases.c.flow == flow
                )
            ).first()
        if row is None or (_aware(row.expires_at) or _now()) < _now():
            return None
        return str(row.holder)

    # -- statements ---------------------------------------------------------------------------
    def _take(self, connection: str, flow: str, holder: str, ttl: timedelta) -> str | None:
        """Take the lease if free or expired; else return who holds it."""
        now = _now()
        row = {
            "connection": connection,
            "flow": flow,
            "holder": holder,
            "acquired_at": now,
            "expires_at": now + ttl,
        }
        with self._tx() as conn:
            if conn.execute(self._insert(leases).values(row).on_conflict_do_nothing()).rowcount:
                return None
            previous = conn.execute(
                select(leases.c.holder).where(
                    leases.c.connection == connection, leases.c.flow == flow
                )
            ).scalar()
            took = conn.execute(
                update(leases)
                .where(
                    leases.c.connection == connection,
                    leases.c.flow == flow,
                    leases.c.expires_at < now,
                )
                .values(holder=holder, acquired_at=now, expires_at=now + ttl)
            ).rowcount
        if took:
            log.warning(
                "connection %s: took over the expired %s lease of %s", connection, flow, previous
            )
            return None
        return str(previous)

    def _renew(self, connection: str, flow: str, holder: str, ttl: timedelta) -> datetime | None:
        until = _now() + ttl
        with self._tx() as conn:
            renewed = conn.execute(
                update(leases)
                .where(
                    leases.c.connection == connection,
                    leases.c.flow == flow,
                    leases.c.holder == holder,
                )
                .values(expires_at=until)
            ).rowcount
        return until if renewed else None

    def _give_back(self, connection: str, flow: str, holder: str) -> None:
        with self._tx() as conn:
            conn.execute(
                delete(leases).where(
                    leases.c.connection == connection,
                    leases.c.flow == flow,
                    leases.c.holder == holder,
                )
            )

"""Questions waiting for a person (``ds_reviews``): which held orders (or suspect inventory
snapshots) a review run asks about.

A subject (one held order, one snapshot file) is asked about once: the row's key is (connection,
kind, subject), so two runs holding the same order never raise two Required Actions for it. The
answer (or the timeout) closes the rows of the batch that are still ``asked``; asked twice, it
finds none. The asking and closing go in the order's timeline; for a snapshot, in the
connection's (empty order id, the file name first in the detail).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from dropstream.ledger.base import LedgerBase, _aware
from dropstream.ledger.events import event_row, write_events
from dropstream.ledger.schema import reviews

#: Review kinds whose subject is an order: their asking and closing show in its timeline.
ORDER_KINDS = ("held_orders",)


class ReviewBook(LedgerBase):
    """Reviews asked, and their answers."""

    def ask_review(
        self,
        connection: str,
        kind: str,
        review_id: str,
        items: Iterable[tuple[str, str, str]],
        now: datetime,
    ) -> list[str]:
        """Record ``(subject, label, detail)`` items not asked about before under ``review_id``;
        return the subjects that are new (only those are in this review)."""
        new: list[str] = []
        with self._tx() as conn:
            for subject, label, detail in items:
                inserted = conn.execute(
                    self._insert(reviews)
                    .values(
                        connection=connection,
                        kind=kind,
                        subject=subject,
                        review_id=review_id,
                        label=label,
                        detail=detail,
                        state="asked",
                        asked_at=now,
                    )
                    .on_conflict_do_nothing()
                ).rowcount
                if inserted:
                    new.append(subject)
        return new

    def forget_review(self, review_id: str) -> int:
        """Drop a review nobody could be asked (its run was never created): the next orders run
        asks again. Only rows still ``asked``; returns how many."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    delete(reviews).where(
                        reviews.c.review_id == review_id, reviews.c.state == "asked"
                    )
                ).rowcount
            )

    def set_review_run(self, review_id: str, run_id: str, now: datetime) -> None:
        """The review's run exists: note it, and put "review asked" in each order's timeline."""
        with self._tx() as conn:
            rows = conn.execute(
                update(reviews)
                .where(reviews.c.review_id == review_id)
                .values(run_id=run_id)
                .returning(reviews.c.connection, reviews.c.kind, reviews.c.subject, reviews.c.label)
            ).all()
            write_events(
                conn,
                [
                    _event(
                        r.connection,
                        r.kind,
                        r.subject,
                        r.label,
                        "review_asked",
                        now,
                        f"in Required Actions ({run_id})",
                        run=run_id,
                    )
                    for r in rows
                ],
            )

    def review_items(self, review_id: str, *, state: str | None = None) -> list[dict[str, Any]]:
        """The review's rows (optionally only in ``state``), in the order they were labelled."""
        query = select(reviews).where(reviews.c.review_id == review_id)
        if state is not None:
            query = query.where(reviews.c.state == state)
        with self._tx() as conn:
            rows = conn.execute(query.order_by(reviews.c.label, reviews.c.subject)).all()
        return [_plain(r) for r in rows]

    def close_review_items(
        self,
        connection: str,
        kind: str,
        subjects: Sequence[str],
        state: str,
        now: datetime,
        *,
        answer: str,
        actor: str | None,
        run: str = "",
        event: str | None = None,
        detail: str = "",
    ) -> list[str]:
        """``asked`` -> ``state`` for ``subjects``; return those that moved (the rest were closed
        before). ``event`` (an order event) is written for each that moved."""
        moved: list[str] = []
        with self._tx() as conn:
            for subject in subjects:
                row = conn.execute(
                    update(reviews)
                    .where(
                        reviews.c.connection == connection,
                        reviews.c.kind == kind,
                        reviews.c.subject == subject,
                        reviews.c.state == "asked",
                    )
                    .values(state=state, answer=answer, actor=actor, answered_at=now)
                    .returning(reviews.c.label)
                ).first()
                if row is None:
                    continue
                moved.append(subject)
                if event is not None:
                    write_events(
                        conn,
                        [
                            _event(
                                connection,
                                kind,
                                subject,
                                row.label,
                                event,
                                now,
                                detail,
                                run=run,
                                actor=actor,
                            )
                        ],
                    )
        return moved

    def forget_stale_reviews(self, connection: str, kind: str, asked_before: datetime) -> int:
        """Drop items still ``asked`` since before ``asked_before``: their review run is gone
        (deleted, or failed before closing them); they are asked about again."""
        with self._tx() as conn:
            return int(
                conn.execute(
                    delete(reviews).where(
                        reviews.c.connection == connection,
                        reviews.c.kind == kind,
                        reviews.c.state == "asked",
                        reviews.c.asked_at < asked_before,
                    )
                ).rowcount
            )

    def open_reviews(self, connection: str, kind: str) -> list[dict[str, Any]]:
        """The connection's items still waiting for an answer."""
        with self._tx() as conn:
            rows = conn.execute(
                select(reviews)
                .where(
                    reviews.c.connection == connection,
                    reviews.c.kind == kind,
                    reviews.c.state == "asked",
                )
                .order_by(reviews.c.asked_at, reviews.c.label)
            ).all()
        return [_plain(r) for r in rows]


def _event(
    connection: str,
    kind: str,
    subject: str,
    label: str,
    event: str,
    now: datetime,
    detail: str,
    *,
    run: str,
    actor: str | None = None,
) -> dict[str, Any]:
    """The timeline row of a review step: the order's, or the connection's for another kind."""
    if kind in ORDER_KINDS:
        return event_row(
            connection, subject, _number(label), event, now, detail, run=run, actor=actor
        )
    about = f"{label}: {detail}" if detail else label
    return event_row(connection, "", "", event, now, about, run=run, actor=actor)


def _number(label: str) -> str:
    """The order number in a held-order label (``#1042``, or ``#1042 (<id>)`` for a number
    two orders share)."""
    return label.removeprefix("#").split(" (", 1)[0]


def _plain(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for key in ("asked_at", "answered_at"):
        out[key] = _aware(out[key])
    return out

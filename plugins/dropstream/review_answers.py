"""A review's answer, applied (``dropstream_review``'s ``apply_answer``): each chosen item through
:func:`dropstream.action_tasks.run_action`, the code path of ``dropstream_actions``, as the person
who answered. Nobody answering keeps everything as it is; items left out are asked again.

What differs between kinds (an order held, a snapshot kept back) is a :class:`Subjects` entry:
how to read an item's state now, which state it waits in, and the words for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dropstream import reviews
from dropstream.errors import ConfigurationError
from dropstream.reviews import HELD_ORDERS, SUSPECT_SNAPSHOT, ReviewKind

if TYPE_CHECKING:
    from dropstream.ledger import Ledger
    from dropstream.spec import ConnectionSpec

log = logging.getLogger("dropstream.reviews")


@dataclass(frozen=True, slots=True)
class Subjects:
    """What a kind's items are, for applying an answer to them."""

    noun: str  # "order(s)"
    state_of: Callable[[Ledger, str, str], str | None]  # (ledger, connection, subject)
    waiting: str  # the state an answer is about
    #: Where an item may be when an answer comes that already says what the answer asked (moved
    #: on meanwhile, by another person, the store or a newer file): nothing to object to.
    already: dict[str, tuple[str, ...]]
    past: dict[str, str]  # option -> what became of the item ("released")
    kept_event: str  # the timeline step of the "keep" answer
    stays: str  # what a timeout leaves it as ("stay held")
    timed_out_detail: str
    such: str  # "such an order"
    elsewhere: str  # how a person acts on one such item now


def _order_state(ledger: Ledger, connection: str, order_id: str) -> str | None:
    return (ledger.order_row(connection, order_id) or {}).get("state")


def _snapshot_state(ledger: Ledger, connection: str, source_file: str) -> str | None:
    return ledger.snapshot_state(connection, source_file)


SUBJECTS: dict[str, Subjects] = {
    HELD_ORDERS.name: Subjects(
        noun="order(s)",
        state_of=_order_state,
        waiting="held",
        already={
            reviews.RELEASE: ("ready", "in_file", "published", "shipped"),
            reviews.CANCEL: ("cancelled", "cancelling", "cancel_sent"),
        },
        past={reviews.RELEASE: "released", reviews.CANCEL: "cancelled"},
        kept_event="kept_held",
        stays="stay held",
        timed_out_detail="still held; listed in the daily held-orders digest",
        such="such an order",
        elsewhere="use that action on its order page (DropStream → Orders), which does what "
        "fits its state now",
    ),
    SUSPECT_SNAPSHOT.name: Subjects(
        noun="snapshot(s)",
        state_of=_snapshot_state,
        waiting="suspect",
        already={
            # A newer snapshot that is not suspect replaced it: nothing is left to decide.
            reviews.APPROVE: ("approved", "applied", "superseded"),
            reviews.REJECT: ("rejected", "superseded"),
        },
        past={reviews.APPROVE: "approved", reviews.REJECT: "rejected"},
        kept_event="kept_waiting",
        stays="keep waiting (not pushed)",
        timed_out_detail="still waiting, not pushed; listed in the daily digest",
        such="such a snapshot",
        elsewhere="use approve_snapshot or reject_snapshot in the dropstream_actions DAG",
    ),
}


def apply_review(
    spec: ConnectionSpec,
    kind: ReviewKind,
    review_id: str,
    answer: dict[str, Any],
    *,
    run: str,
    ask_again: Callable[[ConnectionSpec, ReviewKind, str], None],
) -> str:
    """Apply a review's answer (the HITL task's result) to the items it was about; returns
    what happened. A timed-out review changes nothing; the items left out are asked again
    (``ask_again``), as are items that came up while the review waited."""
    from dropstream.action_tasks import run_action
    from dropstream.actions import ActionRequest
    from dropstream.ledger import Ledger

    about = SUBJECTS[kind.name]
    option, labels, why, who = reviews.chosen(answer, kind)
    now = datetime.now(UTC)
    ledger = Ledger()
    done: list[str] = []
    refused: list[str] = []
    moved_on: list[str] = []
    try:
        asked = ledger.review_items(review_id, state="asked")
        if who is None:  # nobody answered in time: the default, which changes nothing
            moved = ledger.close_review_items(
                spec.name,
                kind.name,
                [r["subject"] for r in asked],
                "timed_out",
                now,
                answer=option,
                actor=None,
                run=run,
                event="review_timed_out",
                detail=about.timed_out_detail,
            )
            done.append(f"review timed out: {len(moved)} {about.noun} of {spec.name} {about.stays}")
        chosen_rows = [r for r in asked if r["label"] in labels] if who else []
        left_out = [r["subject"] for r in asked if r["label"] not in labels] if who else []
        reason = why or f"answered {option} in Required Actions ({run})"

        def close(row: dict[str, Any], state: str, answered: str, **event: Any) -> None:
            ledger.close_review_items(
                spec.name,
                kind.name,
                [row["subject"]],
                state,
                now,
                answer=answered,
                actor=who,
                run=run,
                **event,
            )

        for row in chosen_rows:
            action = reviews.ACTIONS.get(option)
            if action is None:
                close(row, "answered", option, event=about.kept_event, detail=reason)
                done.append(f"{row['label']} {about.kept_event.replace('_', ' ')}")
                continue
            state = about.state_of(ledger, spec.name, row["subject"])
            if state != about.waiting:
                # Moved on since the question was asked: the answer was about it as it was, so
                # it is not applied (a Cancel never sends a cancel file for an order a colleague
                # released and the warehouse now has).
                close(row, "moot", f"{option} (not applied: {state})")
                note = f"{row['label']} is {state} now, no longer {about.waiting}: "
                note += f"{option} not applied"
                (done if state in about.already.get(option, ()) else moved_on).append(note)
                continue
            request = ActionRequest.model_validate(
                {"action": action, "connection": spec.name, "target": row["subject"],
                 "reason": reason}
            )  # fmt: skip
            try:
                outcome = run_action(request, actor=who or "", run=run, now=now)
            except ConfigurationError as exc:
                refused.append(f"{row['label']}: {exc}")
                close(row, "answered", f"{option} (refused)")
            else:
                done.append(outcome.message)
                close(row, "answered", option)
        if left_out:
            ledger.forget_review(review_id)  # only the left-out rows are still "asked"
    finally:
        ledger.close()
    # This review is closed: items left out, or come up since it was asked, get the next one.
    ask_again(spec, kind, run)
    if left_out:
        done.append(f"{len(left_out)} {about.noun} left out: asked again in a new Required Action")
    summary = "; ".join(done) if who is None else f"{option} by {who}: " + "; ".join(done)
    log.info("connection %s, review %s: %s", spec.name, review_id, summary)
    past = about.past.get(option, option)
    problems = []
    if refused:
        problems.append(
            f"{len(refused)} {about.noun} could not be {past} and {about.stays}: "
            + " | ".join(refused)
        )
    if moved_on:
        problems.append(
            " | ".join(moved_on) + f". If {about.such} must still be {past}, {about.elsewhere}"
        )
    if problems:
        raise ConfigurationError(
            f"connection {spec.name!r}: "
            + "; ".join(problems)
            + (f". Done: {summary}" if done else "")
        )
    return summary

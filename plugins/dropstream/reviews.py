"""Questions for a person, asked in Airflow's Required Actions by the ``dropstream_review`` DAG.

An orders run that holds orders does not wait for anyone (its DAG has ``max_active_runs=1``):
it records the held orders nobody was asked about yet as one review (``ds_reviews``) and
triggers a ``dropstream_review`` run through the REST API. That run's human-in-the-loop task
waits in ``awaiting_input`` (no worker slot) until a person answers under Browse → Required
Actions, or until the review times out. The answer becomes the same action the
``dropstream_actions`` DAG performs, recorded with the person who answered.

A *kind* says what is asked and which answers there are; ``held_orders`` is the first. Another
(a suspect inventory snapshot) is another :class:`ReviewKind` in :data:`KINDS` with its own
``apply`` in ``dropstream.review_tasks``: the DAG gets an ask task for every kind.
Pure: no Airflow, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DAG_ID = "dropstream_review"
#: Review runs' ids start with this (the view links their timeline steps to them).
RUN_PREFIX = "review__"
RELEASE, CANCEL, KEEP = "Release", "Cancel", "Keep holding"
#: How many items a body lists one by one; the rest are counted (a Required Action stays readable).
LISTED = 60


@dataclass(frozen=True, slots=True)
class ReviewKind:
    """One kind of question: its answers, the one taken when nobody answers, its words."""

    name: str
    options: tuple[str, ...]
    default: str  # taken on timeout: must change nothing
    what: str  # "held order(s)" in a sentence

    @property
    def task_id(self) -> str:
        return f"ask_{self.name}"


HELD_ORDERS = ReviewKind("held_orders", (RELEASE, CANCEL, KEEP), KEEP, "held order")
KINDS: dict[str, ReviewKind] = {k.name: k for k in (HELD_ORDERS,)}
#: The review answers that are operator actions (``dropstream.actions``), by action name.
ACTIONS = {RELEASE: "release", CANCEL: "cancel"}


@dataclass(frozen=True, slots=True)
class Item:
    """One thing asked about: its ledger key, what a person calls it, why it is asked."""

    subject: str
    label: str
    detail: str
    since: datetime | None = None


def held_order_items(rows: Iterable[dict[str, Any]]) -> list[Item]:
    """Held orders (``Ledger.held_before`` rows) as review items labelled ``#<number>``; two
    orders with one number are told apart by their id."""
    rows = list(rows)
    numbers = [str(r["number"]) for r in rows]
    return [
        Item(
            str(r["order_id"]),
            f"#{r['number']}"
            if numbers.count(str(r["number"])) == 1
            else f"#{r['number']} ({r['order_id']})",
            str(r["reason"] or "held"),
            r.get("since"),
        )
        for r in rows
    ]


def subject_line(kind: ReviewKind, connection: str, merchant: str, count: int) -> str:
    plural = "s" if count != 1 else ""
    return f"{connection} ({merchant}): {count} {kind.what}{plural} to review"


def body(
    kind: ReviewKind,
    connection: str,
    items: Sequence[Item],
    timeout: timedelta,
    *,
    view_url: str = "",
) -> str:
    """The Required Action's Markdown body: what each item is waiting for, and what each
    answer does."""
    if kind is not HELD_ORDERS:
        raise ValueError(f"no question text for review kind {kind.name!r}")
    hours = timeout.total_seconds() / 3600
    lines = [
        f"Connection **{connection}** holds {len(items)} order"
        f"{'s' if len(items) != 1 else ''} that will not reach the warehouse until someone "
        "decides.",
        "",
        "| Order | Held because | Since (UTC) |",
        "|---|---|---|",
    ]
    for item in items[:LISTED]:
        since = f"{item.since:%Y-%m-%d %H:%M}" if item.since else ""
        reason = item.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {item.label} | {reason} | {since} |")
    if len(items) > LISTED:
        lines.append(f"| … and {len(items) - LISTED} more | | |")
    lines += [
        "",
        "**Orders**: the answer applies to the orders chosen there (all of them at first). "
        "Orders you leave out are asked about again at once, in a new Required Action.",
        "",
        f"- **{RELEASE}**: sent as it is in the next orders run.",
        f"- **{CANCEL}**: never sent.",
        f"- **{KEEP}**: stays held; it is listed in the daily held-orders digest.",
        "",
        "Orders the warehouse would refuse (no ship method, unknown SKU, …) are not asked "
        "here: they wait for a rules change, which the held-order alert names.",
        "",
        f"Nobody answering within {hours:g} hour{'s' if hours != 1 else ''} means "
        f"**{kind.default}**. Your answer and your name go in each order's timeline.",
    ]
    if view_url:
        lines += ["", f"[The connection's orders in DropStream]({view_url})"]
    return "\n".join(lines)


def chosen(answer: dict[str, Any], kind: ReviewKind) -> tuple[str, set[str], str, str | None]:
    """(option, labels it applies to, why, who) from the HITL task's result; ``who`` None when
    the review timed out (the default was taken)."""
    options = list(answer.get("chosen_options") or [kind.default])
    params = answer.get("params_input") or {}
    user = answer.get("responded_by_user")
    who = (user.get("name") or user.get("id")) if isinstance(user, dict) else None
    why = str(params.get("why") or "").strip()
    return options[0], set(params.get("apply_to") or []), why, who

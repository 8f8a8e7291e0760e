"""Questions for a person, asked in Airflow's Required Actions by the ``dropstream_review`` DAG.

An orders run that holds orders does not wait for anyone (its DAG has ``max_active_runs=1``):
it records the held orders nobody was asked about yet as one review (``ds_reviews``) and
triggers a ``dropstream_review`` run through the REST API. That run's human-in-the-loop task
waits in ``awaiting_input`` (no worker slot) until a person answers under Browse → Required
Actions, or until the review times out. The answer becomes the same action the
``dropstream_actions`` DAG performs, recorded with the person who answered.

A *kind* says what is asked and which answers there are: ``held_orders`` (an orders run held
orders a person may release) and ``suspect_snapshot`` (an inventory run kept a suspect snapshot
back: approve or reject it). Each is a :class:`ReviewKind` in :data:`KINDS` with its own apply in
``dropstream.review_tasks``: the DAG gets an ask task for every kind.
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
APPROVE, REJECT, KEEP_WAITING = "Approve", "Reject", "Keep waiting"
#: How many items a body lists one by one; the rest are counted (a Required Action stays readable).
LISTED = 60
#: How many SKUs a snapshot's detail names one by one.
ZEROED_LISTED = 20


@dataclass(frozen=True, slots=True)
class ReviewKind:
    """One kind of question: its answers, the one taken when nobody answers, its words."""

    name: str
    options: tuple[str, ...]
    default: str  # taken on timeout: must change nothing
    what: str  # "held order(s)" in a sentence
    items_title: str  # the Required Action's field of the items the answer applies to

    @property
    def task_id(self) -> str:
        return f"ask_{self.name}"


HELD_ORDERS = ReviewKind("held_orders", (RELEASE, CANCEL, KEEP), KEEP, "held order", "Orders")
SUSPECT_SNAPSHOT = ReviewKind(
    "suspect_snapshot",
    (APPROVE, REJECT, KEEP_WAITING),
    KEEP_WAITING,
    "suspect inventory snapshot",
    "Snapshots",
)
KINDS: dict[str, ReviewKind] = {k.name: k for k in (HELD_ORDERS, SUSPECT_SNAPSHOT)}
#: The review answers that are operator actions (``dropstream.actions``): the action's name.
ACTIONS = {
    RELEASE: "release",
    CANCEL: "cancel",
    APPROVE: "approve_snapshot",
    REJECT: "reject_snapshot",
}


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


def snapshot_item(
    row: dict[str, Any], levels: Sequence[tuple[str, int, Any]], published: dict[str, int]
) -> Item:
    """A suspect snapshot (``Ledger.suspect_snapshots`` row) as a review item labelled with its
    file name; the detail says why it is suspect, which SKUs it would zero and the counts.

    ``levels``: the snapshot's (warehouse SKU, available, as of); ``published``: warehouse SKU
    -> quantity the store has now.
    """
    snapshot = {sku: qty for sku, qty, _ in levels}
    in_stock = sorted(sku for sku, qty in published.items() if qty and qty > 0)
    zeroed = [sku for sku in in_stock if sku in snapshot and snapshot[sku] <= 0]
    unlisted = [sku for sku in in_stock if sku not in snapshot]
    shown = ", ".join(zeroed[:ZEROED_LISTED]) + (
        f" and {len(zeroed) - ZEROED_LISTED} more" if len(zeroed) > ZEROED_LISTED else ""
    )
    parts = [
        f"it {row['reason']}",
        f"{len(snapshot)} SKU(s) in the file, {len(in_stock)} in stock in the store now",
        f"would zero {len(zeroed)}: {shown}" if zeroed else "would zero none",
    ]
    if unlisted:
        parts.append(f"{len(unlisted)} in-stock SKU(s) not in the file")
    return Item(str(row["source_file"]), str(row["source_file"]), "; ".join(parts), row["kept_at"])


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
    if kind is SUSPECT_SNAPSHOT:
        lines = _snapshot_body(connection, items)
    elif kind is HELD_ORDERS:
        lines = _held_orders_body(connection, items)
    else:
        raise ValueError(f"no question text for review kind {kind.name!r}")
    hours = timeout.total_seconds() / 3600
    where, page = _RECORDED[kind.name]
    lines += [
        "",
        f"Nobody answering within {hours:g} hour{'s' if hours != 1 else ''} means "
        f"**{kind.default}**. Your answer and your name go in {where}.",
    ]
    if view_url:
        lines += ["", f"[The connection's {page} in DropStream]({view_url})"]
    return "\n".join(lines)


#: Where a kind's answers are recorded, and the DropStream page the body links to.
_RECORDED = {
    HELD_ORDERS.name: ("each order's timeline", "orders"),
    SUSPECT_SNAPSHOT.name: ("the ledger with the snapshot's decision", "files"),
}


def _rows(items: Sequence[Item], empty_cells: int) -> list[str]:
    lines = []
    for item in items[:LISTED]:
        since = f"{item.since:%Y-%m-%d %H:%M}" if item.since else ""
        detail = item.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {item.label} | {detail} | {since} |")
    if len(items) > LISTED:
        lines.append(f"| … and {len(items) - LISTED} more |" + " |" * empty_cells)
    return lines


def _snapshot_body(connection: str, items: Sequence[Item]) -> list[str]:
    many = len(items) != 1
    return [
        f"Connection **{connection}** kept back {len(items)} inventory snapshot"
        f"{'s' if many else ''} from the warehouse: pushing {'them' if many else 'it'} would "
        "set much of the store's stock to zero (`rules.zero_out_guard_pct`). Nothing was pushed.",
        "",
        "| Snapshot file | Why, and the SKUs it would zero | Kept since (UTC) |",
        "|---|---|---|",
        *_rows(items, 2),
        "",
        "**Snapshots**: the answer applies to the files chosen there (all of them at first). "
        "Files you leave out are asked about again at once, in a new Required Action.",
        "",
        f"- **{APPROVE}**: the stock really is gone: the next inventory run pushes its figures.",
        f"- **{REJECT}**: a wrong file: its figures are never pushed.",
        f"- **{KEEP_WAITING}**: nothing is pushed; it is listed in the daily digest. A newer "
        "snapshot that is not suspect replaces it by itself.",
    ]


def _held_orders_body(connection: str, items: Sequence[Item]) -> list[str]:
    return [
        f"Connection **{connection}** holds {len(items)} order"
        f"{'s' if len(items) != 1 else ''} that will not reach the warehouse until someone "
        "decides.",
        "",
        "| Order | Held because | Since (UTC) |",
        "|---|---|---|",
        *_rows(items, 2),
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
    ]


def chosen(answer: dict[str, Any], kind: ReviewKind) -> tuple[str, set[str], str, str | None]:
    """(option, labels it applies to, why, who) from the HITL task's result; ``who`` None when
    the review timed out (the default was taken)."""
    options = list(answer.get("chosen_options") or [kind.default])
    params = answer.get("params_input") or {}
    user = answer.get("responded_by_user")
    who = (user.get("name") or user.get("id")) if isinstance(user, dict) else None
    why = str(params.get("why") or "").strip()
    return options[0], set(params.get("apply_to") or []), why, who

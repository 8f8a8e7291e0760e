"""What a review asks (pure) and how the ledger keeps it: each held order asked about once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dropstream import reviews
from dropstream.reviews import HELD_ORDERS
from tests.dropstream.alerts.test_sweep import HELD, hold

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def rows(count: int) -> list[dict]:
    return [
        {"order_id": f"gid://{n}", "number": str(1000 + n), "reason": HELD, "since": NOW}
        for n in range(1, count + 1)
    ]


def test_one_held_order_is_asked_with_its_reason_and_what_each_answer_does():
    items = reviews.held_order_items(rows(1))
    text = reviews.body(HELD_ORDERS, "acme", items, timedelta(hours=4), view_url="/v")
    assert "Connection **acme** holds 1 order that will not reach the warehouse" in text
    assert f"| #1001 | {HELD} | 2026-11-20 08:00 |" in text
    assert "- **Release**: sent as it is in the next orders run" in text
    assert "Nobody answering within 4 hours means **Keep holding**" in text
    assert "[The connection's orders in DropStream](/v)" in text
    assert reviews.subject_line(HELD_ORDERS, "acme", "acme-goods", 1) == (
        "acme (acme-goods): 1 held order to review"
    )


def test_forty_held_orders_in_one_readable_question():
    items = reviews.held_order_items(rows(40))
    text = reviews.body(HELD_ORDERS, "acme", items, timedelta(minutes=90))
    assert text.count("| #10") == 40 and "more |" not in text
    assert "within 1.5 hours" in text
    many = reviews.body(HELD_ORDERS, "acme", reviews.held_order_items(rows(75)), timedelta(1))
    assert many.count("| #1") == reviews.LISTED and "| … and 15 more | | |" in many


def test_two_orders_with_one_number_are_told_apart():
    twins = [{**rows(1)[0], "order_id": oid} for oid in ("a", "b")]
    assert [i.label for i in reviews.held_order_items(twins)] == ["#1001 (a)", "#1001 (b)"]


def test_the_answer_read_from_the_hitl_result():
    answer = {
        "chosen_options": ["Cancel"],
        "params_input": {"apply_to": ["#1001"], "why": " fraud "},
        "responded_by_user": {"id": "3", "name": "alice"},
    }
    assert reviews.chosen(answer, HELD_ORDERS) == ("Cancel", {"#1001"}, "fraud", "alice")
    timed_out = {"chosen_options": ["Keep holding"], "params_input": {}, "responded_by_user": None}
    assert reviews.chosen(timed_out, HELD_ORDERS) == ("Keep holding", set(), "", None)


def test_a_held_order_is_asked_about_once_and_closed_once(ledger):
    hold(ledger, 1, 2)
    held = reviews.held_order_items(ledger.held_before("acme", NOW + timedelta(seconds=1)))
    items = [(i.subject, i.label, i.detail) for i in held]
    assert len(ledger.ask_review("acme", "held_orders", "r1", items, NOW)) == 2
    assert ledger.ask_review("acme", "held_orders", "r2", items, NOW) == []  # the next run
    ledger.set_review_run("r1", "review__acme__1", NOW)
    subjects = [i.subject for i in held]
    closed = ledger.close_review_items(
        "acme",
        "held_orders",
        subjects[:1],
        "answered",
        NOW,
        answer="Keep holding",
        actor="alice",
        event="kept_held",
        detail="waiting",
    )
    assert closed == subjects[:1]
    again = ledger.close_review_items(
        "acme", "held_orders", subjects[:1], "answered", NOW, answer="Release", actor="bob"
    )
    assert again == []  # answered twice: nothing the second time
    assert ledger.forget_review("r1") == 1  # the other one, still asked: free to ask again
    assert [r["label"] for r in ledger.review_items("r1")] == ["#1001"]
    events = ledger.order_timeline("acme", subjects[0])
    assert [(e.event, e.actor, e.order_number) for e in events][-2:] == [
        ("review_asked", None, "1001"),
        ("kept_held", "alice", "1001"),
    ]


def test_a_suspect_snapshot_is_asked_with_its_file_the_skus_it_would_zero_and_counts():
    from dropstream.reviews import SUSPECT_SNAPSHOT

    row = {"source_file": "inv_2.csv", "reason": "would set 2 of the 3 SKUs …", "kept_at": NOW}
    levels = [("SKU-1", 0, NOW), ("SKU-2", 0, NOW), ("SKU-3", 4, NOW), ("SKU-9", 0, NOW)]
    published = {"SKU-1": 8, "SKU-2": 3, "SKU-3": 1, "SKU-4": 5, "SKU-5": 0}
    item = reviews.snapshot_item(row, levels, published)
    assert (item.subject, item.label, item.since) == ("inv_2.csv", "inv_2.csv", NOW)
    assert item.detail == (
        "it would set 2 of the 3 SKUs …; 4 SKU(s) in the file, 4 in stock in the store now; "
        "would zero 2: SKU-1, SKU-2; 1 in-stock SKU(s) not in the file"
    )
    text = reviews.body(SUSPECT_SNAPSHOT, "acme", [item], timedelta(hours=4), view_url="/f")
    assert "Connection **acme** kept back 1 inventory snapshot from the warehouse" in text
    assert "| inv_2.csv | it would set 2 of the 3 SKUs …; " in text
    assert "| 2026-11-20 08:00 |" in text
    assert "- **Approve**: the stock really is gone: the next inventory run pushes" in text
    assert "- **Reject**: a wrong file: its figures are never pushed." in text
    assert "Nobody answering within 4 hours means **Keep waiting**" in text
    assert "[The connection's files in DropStream](/f)" in text
    assert reviews.subject_line(SUSPECT_SNAPSHOT, "acme", "acme-goods", 2) == (
        "acme (acme-goods): 2 suspect inventory snapshots to review"
    )
    many = reviews.snapshot_item(row, [(f"S{n:02}", 0, NOW) for n in range(25)],
                                 {f"S{n:02}": 1 for n in range(25)})  # fmt: skip
    assert "would zero 25: S00, S01," in many.detail and "S19 and 5 more" in many.detail

"""Resending a whole order file and a single order never sends a cancelled one again, in the
ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from dropstream.errors import LedgerConflictError
from tests.dropstream.test_cancellations import cancelled, later, publish
from tests.dropstream.test_ledger import order


def resend(ledger, source, ids, reason="3PL lost it", name="ord_again.csv"):
    return ledger.create_file_resend(
        "c", "/in", name, b"x", source, ids, later(20), reason=reason, actor="ops"
    )


def test_a_file_resend_leaves_out_orders_cancelled_after_sending(ledger):
    kept, asked, sent, shipped = order(1), order(2), order(3), order(4)
    publish(ledger, kept, asked, sent, shipped)
    ledger.set_order_states(
        "c", [(shipped.order_id, "shipped", "", None)], later(2), from_states=("published",)
    )
    # asked and sent: cancelled in the store; sent's cancel file is published, asked's not yet
    ledger.record_cancellations("c", [cancelled(asked), cancelled(sent)], later(5))
    ledger.create_cancel_file("c", "/in", "cxl_1.csv", b"c", [sent.order_id], later(6))
    ledger.mark_file_committing("c", "cxl_1.csv")
    ledger.mark_file_published("c", "cxl_1.csv", later(7))
    assert ledger.order_row("c", sent.order_id)["state"] == "cancel_sent"
    assert ledger.order_row("c", asked.order_id)["state"] == "published"  # cancel still to send

    state, again = ledger.file_orders("c", "ord_1.csv")
    assert state == "published"
    assert [o.order_id for o in again] == [kept.order_id]

    # an order cancelled by a person while the file is claimed for it: published, in the file
    ledger.create_cancel_file("c", "/in", "cxl_2.csv", b"c", [asked.order_id], later(8))
    assert ledger.order_row("c", asked.order_id)["state"] == "cancelling"
    assert [o.order_id for o in ledger.file_orders("c", "ord_1.csv")[1]] == [kept.order_id]


def test_a_cancellation_arriving_while_a_file_is_resent_stops_the_resend(ledger):
    one, two = order(1), order(2)
    publish(ledger, one, two)
    _, again = ledger.file_orders("c", "ord_1.csv")
    assert len(again) == 2
    # the store's cancellation lands between reading the file's orders and recording the resend
    ledger.record_cancellations("c", [cancelled(two)], later(10))
    with pytest.raises(LedgerConflictError, match=f"order\\(s\\) {two.number} \\(cancel asked\\)"):
        resend(ledger, "ord_1.csv", [o.order_id for o in again])
    assert [f["file_name"] for f in ledger.unfinished_files("c")] == []  # nothing staged
    assert "resent" not in [e.event for e in ledger.order_timeline("c", one.order_id)]
    # asked again: only the order still to send goes
    _, again = ledger.file_orders("c", "ord_1.csv")
    assert resend(ledger, "ord_1.csv", [o.order_id for o in again]) is True
    assert [f["file_name"] for f in ledger.unfinished_files("c")] == ["ord_again.csv"]


def test_a_single_resend_refuses_an_order_cancelled_after_sending(ledger):
    one = order(1)
    publish(ledger, one)
    ledger.cancel_order("c", one.order_id, later(5), reason="fraud", actor="ops")
    with pytest.raises(LedgerConflictError, match=f"order {one.number} was cancelled"):
        ledger.create_resend_file(
            "c", "/in", "r.csv", b"x", one.order_id, later(6), reason="lost", actor="ops"
        )
    assert ledger.unfinished_files("c") == []

"""The Orders and Connections pages' templates show the cancellation states and events, and the
changed-after-send count, from a real ledger (no api-server: the templates and the ledger)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape

from dropstream.ledger import Ledger
from dropstream.models import Cancellation
from dropstream.spec import parse_spec
from dropstream.web.pages import STATES, templates
from dropstream.web.summary import counts, describe
from tests.dropstream.test_ledger import order
from tests.ledgers import sqlite_ledger_url
from tests.specs import spec_dict

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_cancel_states_events_and_changed_after_send_render(tmp_path):
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    spec = parse_spec("acme", spec_dict("acme"))
    one, two = order(1), order(2)
    try:
        ledger.record_received("acme", [one, two], NOW)
        ledger.set_order_states("acme", [(o.order_id, "ready", "", None) for o in (one, two)], NOW)
        ledger.create_order_file("acme", "/in", "ord_1.csv", b"x", [one.order_id, two.order_id],
                                 NOW)  # fmt: skip
        ledger.mark_file_committing("acme", "ord_1.csv")
        ledger.mark_file_published("acme", "ord_1.csv", NOW)
        later = NOW + timedelta(minutes=20)
        cancel = Cancellation(order=one, cancelled_at=later, reason="cancelled in Shopify: fraud")
        ledger.record_cancellations("acme", [cancel], later)
        ledger.create_cancel_file("acme", "/in", "cxl_1.csv", b"order_number\r\n1001\r\n",
                                  [one.order_id], later)  # fmt: skip
        ledger.mark_file_committing("acme", "cxl_1.csv")
        ledger.mark_file_published("acme", "cxl_1.csv", later)
        moved = replace(two, ship_to=replace(two.ship_to, city="Lyon"))
        ledger.record_received("acme", [moved], later)

        row = ledger.order_row("acme", one.order_id)
        timeline = [e.as_dict() for e in ledger.order_timeline("acme", one.order_id)]
        rows, total = ledger.find_orders("acme", state="cancel_sent")
        html = templates.get_template("orders.html").render(
            base="/dropstream", connection=describe(spec), order=row, timeline=timeline,
            page={"orders": rows, "total": total, "limit": 50, "offset": 0}, q=None,
            state="cancel_sent", states=STATES, query=lambda **_: "", pager_query=lambda _: "",
        )  # fmt: skip
        shown = text(html)
        assert "Order 1001: cancel_sent" in shown
        assert "cancelled after the order was sent: the warehouse gets a cancellation" in shown
        assert "cancel file published to the warehouse cxl_1.csv" in shown
        assert '<option value="cancel_sent" selected>' in html
        assert '<td class="cancel_sent">cancel_sent</td>' in html

        changed = [e.as_dict() for e in ledger.order_timeline("acme", two.order_id)]
        html = templates.get_template("orders.html").render(
            base="/dropstream", connection=describe(spec),
            order=ledger.order_row("acme", two.order_id), timeline=changed,
            page={"orders": [], "total": 0, "limit": 50, "offset": 0}, q="1002", state=None,
            states=STATES, query=lambda **_: "", pager_query=lambda _: "",
        )  # fmt: skip
        assert (
            "lines or ship-to changed in the store after sending (not re-sent) "
            "not sent again: ship-to city 'Paris' -> 'Lyon'"
        ) in text(html)

        facts = describe(spec)
        summary = counts(
            ledger.order_counts("acme"), {}, 0, ledger.changed_after_send_count("acme")
        )
        assert (summary["cancel_sent"], summary["changed_after_send"]) == (1, 1)
        flows = {
            f: {"paused": True, "last_run": None, "dag_id": spec.dag_id(f)}
            for f in ("orders", "inventory", "tracking")
        }
        item = {**facts, "state": "Disabled", "flows": flows, "counts": summary}
        html = templates.get_template("connections.html").render(
            base="/dropstream",
            page={"merchants": [spec.merchant], "connections": [item], "total": 1, "limit": 200,
                  "offset": 0},
            merchant=None, groups=[(spec.merchant, [item])], pager_query=lambda _: "",
        )  # fmt: skip
        assert "Cancel sent" in html and "Changed after send" in html
        assert '<td class="num changed_after_send">1</td>' in html
    finally:
        ledger.close()

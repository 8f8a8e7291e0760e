"""The Files page lists the inventory snapshots the zero-out guard kept back, in every state, with
who decided and why (a Required Action's answer links there), from a real ledger (no api-server:
the template, the API's listing and the ledger)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from dropstream.ledger import Ledger
from dropstream.spec import parse_spec
from dropstream.web.api import kept_snapshots
from dropstream.web.pages import templates
from dropstream.web.summary import describe
from tests.ledgers import sqlite_ledger_url
from tests.specs import spec_dict

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ZEROS = [("SKU-1", 0, NOW), ("SKU-2", 0, NOW)]
WHY = "would set 2 of the 2 SKUs in stock in the store to zero"


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def files_page(spec, snapshots) -> str:
    empty = {"items": [], "total": 0}
    return templates.get_template("files.html").render(
        base="/dropstream", connection=describe(spec), asked=None,
        files={"order_files": empty, "warehouse_files": empty, "counts": {},
               "snapshots": snapshots},
    )  # fmt: skip


def test_kept_snapshots_show_their_state_and_who_decided(tmp_path):
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    spec = parse_spec("acme", spec_dict("acme"))
    try:
        assert "None: no inventory file was suspect" in text(files_page(spec, []))
        later = NOW + timedelta(hours=1)
        assert ledger.keep_suspect_snapshot("acme", "inv_1.csv", ZEROS, WHY, NOW, run="r1")
        later_zeros = [(sku, qty, later) for sku, qty, _ in ZEROS]
        assert ledger.keep_suspect_snapshot("acme", "inv_2.csv", later_zeros, WHY, later)
        assert ledger.decide_snapshot(
            "acme", "inv_1.csv", "reject", later, actor="ops-anna", note="3PL miscount"
        ) == ("suspect", True)

        listed = kept_snapshots(ledger, "acme")
        assert [(s["source_file"], s["state"], s["decided_by"]) for s in listed] == [
            ("inv_2.csv", "suspect", None),  # newest first
            ("inv_1.csv", "rejected", "ops-anna"),
        ]
        assert listed[1]["decided_at"] == later.isoformat()  # JSON-ready
        html = files_page(spec, listed)
        shown = text(html)
        assert "Inventory snapshots kept back (2)" in shown
        assert f"inv_1.csv rejected {WHY} 2026-11-20 10:00:00 ops-anna 2026-11-20 11:00:00 " \
               "3PL miscount" in shown  # fmt: skip
        assert f"inv_2.csv suspect {WHY} 2026-11-20 11:00:00" in shown
        assert '<tr data-snapshot="inv_1.csv">' in html
        assert kept_snapshots(ledger, "other") == []  # another connection's are not listed
    finally:
        ledger.close()

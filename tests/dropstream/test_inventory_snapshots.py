"""The ledger's suspect-snapshot API: keep, list, decide (once), supersede, apply; in-flight
units and bundle targets. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dropstream.ledger import Ledger
from dropstream.rules.fulfillment import decide
from dropstream.spec import Rules
from tests.dropstream.rules._orders import line, order

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ZEROS = [("SKU-1", 0, NOW - timedelta(hours=1)), ("SKU-2", 0, NOW - timedelta(hours=1))]


def test_keep_list_and_approve_once(ledger: Ledger):
    assert ledger.keep_suspect_snapshot("c", "inv_2.csv", ZEROS, "would zero 2 of 2", NOW)
    assert not ledger.keep_suspect_snapshot("c", "inv_2.csv", ZEROS, "again", NOW)  # kept once
    (waiting,) = ledger.suspect_snapshots("c")
    assert (waiting["source_file"], waiting["state"], waiting["reason"]) == (
        "inv_2.csv",
        "suspect",
        "would zero 2 of 2",
    )
    assert ledger.suspect_snapshot_counts() == {"c": 1}
    assert ledger.snapshot_levels("c", "inv_2.csv") == ZEROS
    later = NOW + timedelta(minutes=5)
    assert ledger.decide_snapshot("c", "inv_2.csv", "approve", later, actor="ops", note="ok") == (
        "suspect",
        True,
    )
    assert ledger.decide_snapshot("c", "inv_2.csv", "reject", later, actor="ops") == (
        "approved",
        False,
    )
    (approved,) = ledger.suspect_snapshots("c", "approved")
    assert (approved["decided_by"], approved["decision_note"], approved["decided_at"]) == (
        "ops",
        "ok",
        later,
    )
    assert ledger.suspect_snapshots("c") == [] and ledger.suspect_snapshot_counts() == {}
    assert ledger.mark_snapshot_applied("c", "inv_2.csv", later)
    assert not ledger.mark_snapshot_applied("c", "inv_2.csv", later)
    (event,) = ledger.connection_events("c", event="snapshot_approved")
    assert (event.detail, event.actor, event.at) == ("inv_2.csv: ok", "ops", later)
    assert ledger.connection_events("c", event="snapshot_rejected") == []


def test_reject_and_unknown(ledger: Ledger):
    ledger.keep_suspect_snapshot("c", "inv_2.csv", ZEROS, "why", NOW)
    assert ledger.decide_snapshot("c", "inv_2.csv", "reject", NOW, actor="ops") == (
        "suspect",
        True,
    )
    assert [s["state"] for s in ledger.suspect_snapshots("c", "rejected")] == ["rejected"]
    with pytest.raises(KeyError):
        ledger.decide_snapshot("c", "nope.csv", "approve", NOW, actor="ops")


def test_a_newer_normal_snapshot_supersedes_older_waiting_ones(ledger: Ledger):
    ledger.keep_suspect_snapshot("c", "inv_2.csv", ZEROS, "why", NOW)
    newer = [("SKU-1", 0, NOW + timedelta(hours=1))]
    ledger.keep_suspect_snapshot("c", "inv_4.csv", newer, "why", NOW)
    assert ledger.supersede_snapshots("c", NOW, NOW, by_file="inv_3.csv") == 1
    assert [s["source_file"] for s in ledger.suspect_snapshots("c")] == ["inv_4.csv"]
    (gone,) = ledger.suspect_snapshots("c", "superseded")
    assert gone["decision_note"] == "superseded by inv_3.csv, which is not suspect"


def test_in_flight_units_and_published_quantities(ledger: Ledger):
    rules = Rules(bundles={"KIT": {"MUG": 1, "SPOON": 2}})
    sent = decide(order(line("KIT", 2), order_id="o1"), rules).order
    waiting = order(line("MUG", 5), order_id="o2", number="1002")
    ledger.record_received("c", [sent, waiting], NOW)
    ledger.set_order_states("c", [("o1", "ready", "", sent)], NOW)
    ledger.create_order_file("c", "/in", "f.csv", b"x", ["o1"], NOW)
    assert ledger.in_flight_units("c") == {"MUG": 2, "SPOON": 4}  # o2 is not sent: not counted
    ledger.record_warehouse_levels("c", [("MUG", 10, NOW)], "inv.csv")
    ledger.set_targets("c", {"MUG": 8})
    ledger.set_bundle_targets("c", {"KIT": 3})
    assert ledger.inventory_to_push("c") == {"KIT": 3, "MUG": 8}
    ledger.record_inventory_pushed("c", {"KIT": 3, "MUG": 8}, NOW)
    assert ledger.published_quantities("c") == {"MUG": 8}  # bundles are not warehouse SKUs

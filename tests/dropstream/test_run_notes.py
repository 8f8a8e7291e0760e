"""A flow run's note: one line an operator reads in the grid."""

from __future__ import annotations

import pytest

from dropstream.run_notes import run_note


@pytest.mark.parametrize(
    ("flow", "counts", "note"),
    [
        (
            "orders",
            {
                "fetched": 14,
                "ready": 12,
                "held": 2,
                "reasons": {"no ship method for store method 'PIGEON': add it to …": 2},
                "files": ["ord_acme-1f2e3d4c_261126101500.csv"],
                "orders_published": 12,
            },
            "12 orders published in ord_acme-1f2e3d4c_261126101500.csv · "
            "2 on hold (no ship method for store method 'PIGEON' ×2)",
        ),
        (
            "orders",
            {"fetched": 3, "files": [], "orders_published": 0},
            "no new order to send (3 orders fetched)",
        ),
        (
            "orders",
            {
                "fetched": 3,
                "files": [],
                "orders_published": 0,
                "cancelled_before_sending": 1,
                "cancel_files": ["cxl_acme-1f2e3d4c_261126101500.csv"],
                "cancellations_sent": 2,
            },
            "no new order to send (3 orders fetched) · 1 order cancelled in the store before "
            "sending (not sent) · 2 cancellations sent in cxl_acme-1f2e3d4c_261126101500.csv",
        ),
        (
            "inventory",
            {"files": ["inv_1.csv"], "pushed": 1, "rejected": 2, "archived": 1},
            "1 stock level pushed to the store from inv_1.csv · "
            "2 refused by the store (see the load log) · 1 file archived",
        ),
        ("inventory", {"files": [], "pushed": 0}, "no new inventory file; nothing to push"),
        (
            "tracking",
            {
                "files": ["shp_1.csv"],
                "pushed": 4,
                "unknown_order": 1,
                "bad_records": 2,
                "archived": 1,
            },
            "4 shipments pushed to the store with tracking · 1 for orders this connection did "
            "not send · 2 unreadable record(s) skipped (see the extract log) · 1 file archived",
        ),
    ],
)
def test_notes_say_what_the_run_did(flow, counts, note):
    assert run_note(flow, counts) == note


def test_inventory_note_names_the_suspect_snapshot():
    note = run_note(
        "inventory",
        {"files": ["inv_2.csv"], "pushed": 0, "suspect_snapshots": ["inv_2.csv"], "archived": 1},
    )
    assert note == (
        "0 stock levels pushed to the store from inv_2.csv · suspect snapshot inv_2.csv not "
        "pushed: check it, then approve or reject it in dropstream_actions · 1 file archived"
    )


def test_orders_note_counts_orders_waiting_out_the_hold_period():
    note = run_note("orders", {"fetched": 2, "orders_published": 0, "waiting": 2})
    assert note == "no new order to send (2 orders fetched) · 2 waiting out rules.hold_minutes"

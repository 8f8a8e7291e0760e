"""The inventory flow's zero-out guard on the real sshd: each connection sharing a folder judges a
file against its own store and threshold; approved snapshots are applied; in-flight units and
percent safety stock make the targets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from dropstream.flows import inventory
from dropstream.flows.context import RunContext, SharedFolder
from dropstream.formats import get_format
from dropstream.ledger import Ledger
from dropstream.spec import parse_spec
from dropstream.transports import get_transport
from tests.ledgers import sqlite_ledger_url
from tests.specs import spec_dict

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HEADER = "sku,quantity_available,facility,as_of\r\n"


@pytest.fixture
def setup(monkeypatch, tmp_path, sftp_server):
    monkeypatch.setenv("AIRFLOW_CONN_WH", sftp_server.connection_json())
    ledger = Ledger(sqlite_ledger_url(tmp_path))
    yield ledger, sftp_server
    ledger.close()


def step_for(ledger: Ledger, name: str, **rules) -> RunContext:
    spec = parse_spec(name, spec_dict(name, rules=rules))
    return RunContext(spec=spec, ledger=ledger, now=NOW, log=logging.getLogger("test"))


def in_stock(ledger: Ledger, name: str, **levels: int) -> None:
    """The store of ``name`` last accepted these quantities."""
    ledger.record_warehouse_levels(name, [(s, q, NOW.replace(hour=8)) for s, q in levels.items()],
                                   "inv_0.csv")  # fmt: skip
    ledger.set_targets(name, levels)
    ledger.record_inventory_pushed(name, levels, NOW.replace(hour=8))


def test_each_sharing_connection_judges_the_file_by_its_own_store(setup):
    ledger, server = setup
    in_stock(ledger, "a", **{"SKU-1": 5, "SKU-2": 4})  # a's store has stock
    in_stock(ledger, "c", **{"SKU-1": 5, "SKU-2": 4})  # so has c's, but c tolerates 100 %
    (server.root / "out" / "inv_1.csv").write_text(
        HEADER + "SKU-1,0,RENO,2026-11-30T11:00:00Z\r\nSKU-2,3,RENO,2026-11-30T11:00:00Z\r\n"
    )
    folder = SharedFolder("/out", "shared-key", ("a", "b", "c"), (("c", 100.0),))
    step = step_for(ledger, "a")  # 50 % by default: 1 of 2 zeroed is suspect for a
    got = inventory.extract(step, get_transport("sftp", "wh"), get_format("header_detail_csv"),
                            folder)  # fmt: skip
    assert got["suspect_files"] == ["inv_1.csv"]
    assert [s["source_file"] for s in ledger.suspect_snapshots("a")] == ["inv_1.csv"]
    a_levels = {r["sku"]: r["warehouse_available"] for r in ledger.warehouse_levels("a")}
    assert a_levels == {"SKU-1": 5, "SKU-2": 4}  # not recorded for a
    for other in ("b", "c"):  # b has nothing in stock; c's threshold is 100 %
        assert ledger.suspect_snapshots(other) == []
        levels = {r["sku"]: r["warehouse_available"] for r in ledger.warehouse_levels(other)}
        assert levels == {"SKU-1": 0, "SKU-2": 3}


def test_an_approved_snapshot_is_applied_once_by_the_next_extract(setup):
    ledger, server = setup
    in_stock(ledger, "a", **{"SKU-1": 5})
    zeros = [("SKU-1", 0, NOW.replace(hour=11))]
    ledger.keep_suspect_snapshot("a", "inv_1.csv", zeros, "why", NOW)
    ledger.decide_snapshot("a", "inv_1.csv", "approve", NOW, actor="ops")
    step = step_for(ledger, "a")
    folder = SharedFolder.alone(step, "/out")
    args = (step, get_transport("sftp", "wh"), get_format("header_detail_csv"), folder)
    assert inventory.extract(*args)["approved_applied"] == ["inv_1.csv"]
    assert inventory.extract(*args)["approved_applied"] == []
    assert inventory.transform(step)["to_push"] == 1
    assert ledger.inventory_to_push("a") == {"SKU-1": 0}


def test_targets_subtract_in_flight_units_and_percent_safety_stock(setup):
    ledger, _ = setup
    step = step_for(ledger, "a", safety_stock=5, safety_stock_pct=10, subtract_in_flight=True,
                    bundles={"KIT": {"MUG": 1, "TEA": 2}})  # fmt: skip
    ledger.record_warehouse_levels("a", [("MUG", 240, NOW), ("TEA", 30, NOW)], "inv.csv")
    from tests.dropstream.rules._orders import line, order

    sent = order(line("MUG", 37, 1), line("TEA", 4, 2), order_id="o1")
    ledger.record_received("a", [sent], NOW)
    ledger.set_order_states("a", [("o1", "ready", "", sent)], NOW)
    ledger.create_order_file("a", "/in", "f.csv", b"x", ["o1"], NOW)
    assert inventory.transform(step)["bundles"] == 1
    # docs/fulfillment.md's worked example: 182 mugs, 21 teas; a kit is 1 mug + 2 teas.
    assert ledger.inventory_to_push("a") == {"KIT": 10, "MUG": 182, "TEA": 21}

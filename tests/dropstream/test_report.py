"""The reconciliation report against a real (emulated) Shopify store and a migrated ledger."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dropstream.ledger import Ledger
from dropstream.models import Address, Order, OrderLine
from dropstream.report import reconcile
from dropstream.report.reconcile import store_stock
from dropstream.spec import parse_spec
from tests.ledgers import sqlite_ledger_url
from tests.servers.shopify import shopify_connection_json
from tests.specs import spec_dict

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# warehouse SKU: (warehouse available, pushed to the store, the store's stock now)
STOCK = {
    "SKU-A": (10, 10, 10),  # all agree: not listed
    "SKU-B": (8, 8, 6),  # 2 sold since the push, 2 in an order not shipped yet
    "SKU-C": (5, 5, 9),  # someone changed the store
    "SKU-D": (4, None, 0),  # the snapshot arrived, the push has not happened yet
    "SKU-E": (3, 3, None),  # the store has no such SKU
    "W-F": (7, 7, 7),  # mapped: STORE-F in the store; agrees
}


def order(n: int, sku: str, quantity: int) -> Order:
    return Order(
        order_id=f"gid://shopify/Order/{n}",
        number=str(n),
        created_at=NOW,
        updated_at=NOW,
        ship_to=Address(name="Ada", address1="1 Main St", city="X", postal_code="1", country="US"),
        lines=(OrderLine(line_id="L1", sku=sku, quantity=quantity, unit_price=Decimal("1")),),
    )


@pytest.fixture
def connection(tmp_path, monkeypatch, shopify_emulator):
    entry = spec_dict("acme", rules={"sku_map": {"STORE-F": "W-F"}})
    spec = parse_spec("acme", entry)
    url = sqlite_ledger_url(tmp_path)
    ledger = Ledger(url)
    for sku, (available, pushed, in_store) in STOCK.items():
        ledger.record_warehouse_levels("acme", [(sku, available, NOW)], "inv_1.csv")
        ledger.set_targets("acme", {sku: available})
        if pushed is not None:
            ledger.record_inventory_pushed("acme", {sku: pushed}, NOW)
        if in_store is not None:
            shopify_emulator.add_variant("STORE-F" if sku == "W-F" else sku, available=in_store)
    ledger.record_received("acme", [order(1, "SKU-B", 2)], NOW)
    ledger.set_order_states("acme", [(order(1, "SKU-B", 2).order_id, "ready", "", None)], NOW)
    ledger.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_DROPSTREAM_ACME_STORE", shopify_connection_json(shopify_emulator)
    )
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", url)
    return spec, url, entry


def test_lists_each_differing_sku_with_why(connection):
    spec, url, _ = connection
    stock, why = store_stock(spec, ["SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E", "STORE-F"])
    assert why == "" and stock == {"SKU-A": 10, "SKU-B": 6, "SKU-C": 9, "SKU-D": 0, "STORE-F": 7}
    ledger = Ledger(url)
    try:
        report = reconcile(spec, ledger, stock)
    finally:
        ledger.close()
    rows = {r["sku"]: r for r in report.to_dict("records")}
    assert sorted(rows) == ["SKU-B", "SKU-C", "SKU-D", "SKU-E"]
    assert rows["SKU-B"]["reason"].startswith("sold 2 since the last push; 2 unit(s) in orders")
    assert rows["SKU-B"]["in_flight"] == 2 and rows["SKU-B"]["store"] == 6
    assert rows["SKU-C"]["reason"].startswith("changed in the store outside DropStream: 9 there")
    assert rows["SKU-D"]["reason"] == "not pushed yet: the next inventory run sets the store to 4"
    assert rows["SKU-E"]["reason"].startswith("SKU not found in the store")


def test_command_prints_and_writes_csv(connection, tmp_path):
    _, _, entry = connection
    out = tmp_path / "acme.csv"
    env = {
        **os.environ,
        "AIRFLOW_VAR_DROPSTREAM_CONNECTIONS": json.dumps({"acme": entry}),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dropstream.report", "reconcile", "acme", "--csv", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "4 of 6 SKU(s) differ" in done.stdout and "changed in the store" in done.stdout
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["sku"] for r in rows] == ["SKU-B", "SKU-C", "SKU-D", "SKU-E"]
    assert rows[0]["store"] == "6" and rows[0]["pushed"] == "8" and rows[0]["in_flight"] == "2"

    unknown = subprocess.run(
        [sys.executable, "-m", "dropstream.report", "reconcile", "nope"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 2 and "no connection 'nope' in the registry" in unknown.stderr


def test_a_store_whose_stock_cannot_be_read_is_compared_on_the_ledger_alone(connection):
    spec, url, _ = connection
    bigcommerce = spec.model_copy(
        update={"store": spec.store.model_copy(update={"platform": "bigcommerce"})}
    )
    stock, why = store_stock(bigcommerce, ["SKU-A"])
    assert stock is None and "bigcommerce" in why
    ledger = Ledger(url)
    try:
        report = reconcile(bigcommerce, ledger, stock)
    finally:
        ledger.close()
    assert report["sku"].tolist() == ["SKU-D"]  # only what the ledger alone can tell


def test_a_bundle_is_compared_on_its_target_not_as_an_unreported_sku(connection):
    spec, url, entry = connection
    rules = {**entry["rules"], "bundles": {"KIT": {"SKU-A": 1}}}
    bundled = parse_spec("acme", {**entry, "rules": rules})
    ledger = Ledger(url)
    try:
        ledger.set_bundle_targets("acme", {"KIT": 10})
        report = reconcile(bundled, ledger, {"SKU-A": 10, "KIT": 3})
    finally:
        ledger.close()
    rows = {r["sku"]: r for r in report.to_dict("records")}
    assert rows["KIT"]["reason"] == "not pushed yet: the next inventory run sets the store to 10"

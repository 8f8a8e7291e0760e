"""Two stores of one merchant at one 3PL: one warehouse login, the same folders (issue 9).

Two Shopify shops (two emulators), two connections with their own Airflow Connections that
point at the same account of a real server (sshd, pyftpdlib, the S3 server), the same
``/in``, ``/out`` and ``/archive``, and prefixes ``A-`` / ``B-``. Both shops have an order
``1001``. The real DAGs run with ``dag.test()``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.dags.conftest import DAGS
from tests.dropstream.transports.conformance_adapters import PROTOCOLS, Protocol
from tests.ledgers import sqlite_ledger_url
from tests.servers.shopify import ShopifyEmulator, shopify_connection_json
from tests.specs import spec_dict

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HEADER = (
    "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,ship_date\r\n"
)
INVENTORY = "sku,quantity_available,as_of\r\n"
SHARED = [pytest.param(p, id=p.name, marks=p.marks) for p in PROTOCOLS if p.name != "ftps"]


@dataclass
class Merchant:
    """Two connections, ``shop_a`` and ``shop_b``, sharing one warehouse account and folders."""

    protocol: Protocol
    server: Any
    shops: dict[str, ShopifyEmulator]
    dags: dict[str, Any]

    def run(self, name: str, flow: str, logical_date: datetime) -> None:
        run = self.dags[f"dropstream__{name}__{flow}"].test(logical_date=logical_date)
        assert run.state == "success", f"{name} {flow} ended {run.state}"

    def names(self, folder: str) -> list[str]:
        return self.protocol.names(self.server, folder)

    def get(self, path: str) -> bytes | None:
        return self.protocol.get(self.server, path)

    def put(self, path: str, text: str) -> None:
        self.protocol.put(self.server, path, text.encode())

    def sent(self) -> dict[str, list[str]]:
        """Client order numbers in each order file in /in."""
        found = {}
        for name in self.names("in"):
            rows = csv.reader(io.StringIO((self.get(f"in/{name}") or b"").decode()))
            found[name] = [row[1] for row in rows if row and row[0] == "PH"]
        return found

    def fulfillments(self, shop: str) -> list[tuple[str, str]]:
        """(store order number, tracking number) of every fulfillment the shop was told about."""
        emulator = self.shops[shop]
        return sorted(
            (str(emulator.order(f["order_id"]).number), f["number"]) for f in emulator.fulfillments
        )


def registry(prefixes: dict[str, str], protocol: str) -> dict[str, Any]:
    entries = {}
    for name, prefix in prefixes.items():
        entry = spec_dict(name, rules={"default_ship_method": "UPS", "order_number_prefix": prefix})
        entry["warehouse"]["protocol"] = protocol
        entries[name] = entry
    return entries


@pytest.fixture(params=SHARED)
def merchant(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, airflow_db: None
) -> Iterator[Merchant]:
    protocol: Protocol = request.param
    server = request.getfixturevalue(protocol.fixture)
    shops = {name: ShopifyEmulator().start() for name in ("shop_a", "shop_b")}
    entries = registry({"shop_a": "A-", "shop_b": "B-"}, protocol.name)
    monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(entries))
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    for name, shop in shops.items():
        monkeypatch.setenv(
            f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", shopify_connection_json(shop)
        )
        # Two Airflow Connections, one login: what the setup form creates for two stores.
        conn_id = f"dropstream_{name}_warehouse"
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", protocol.connection_json(server, conn_id)
        )
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "dropstream_connections.py"))
    assert not bag.import_errors, bag.import_errors
    for dag in bag.dags.values():
        for task in dag.tasks:
            task.retries = 0
    try:
        yield Merchant(protocol, server, shops, bag.dags)
    finally:
        for shop in shops.values():
            shop.stop()
    for shop in shops.values():
        shop.check_no_crash()  # a crash was only a 500 to the adapter: fail the test


def test_two_stores_one_login_one_folder(merchant: Merchant, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="dropstream")
    a, b = merchant.shops["shop_a"], merchant.shops["shop_b"]
    at = T0 + timedelta(minutes=3)
    for shop, numbers in ((a, (1001, 1002)), (b, (1001, 1003))):
        for number in numbers:
            shop.add_order(number, updated_at=at, created_at=at)
        shop.add_variant("SKU-1", available=0)

    # Orders: each store's numbers go out with its prefix, so both 1001s stay apart.
    for name in ("shop_a", "shop_b"):
        merchant.run(name, "orders", T0 + timedelta(minutes=15))
    sent = sorted(n for numbers in merchant.sent().values() for n in numbers)
    assert sent == ["A-1001", "A-1002", "B-1001", "B-1003"]

    # Round 1: one shipment file for both stores (and one order nobody sent), one stock file.
    merchant.put(
        "out/shp_1.csv",
        HEADER
        + "A-1001,1,SKU-1,1,UPS,Ground,1ZA1001,2026-11-20\r\n"
        + "B-1001,1,SKU-1,1,UPS,Ground,1ZB1001,2026-11-20\r\n"
        + "B-1003,1,SKU-1,1,UPS,Ground,1ZB1003,2026-11-20\r\n"
        + "C-9999,1,SKU-1,1,UPS,Ground,1ZC9999,2026-11-20\r\n",
    )
    merchant.put("out/inv_1.csv", INVENTORY + "SKU-1,7,2026-11-20T09:00:00Z\r\n")
    merchant.run("shop_a", "tracking", T0 + timedelta(hours=4))
    assert merchant.fulfillments("shop_a") == [("1001", "1ZA1001")]
    assert merchant.fulfillments("shop_b") == []  # B's packages wait in B's ledger for B's run
    merchant.run("shop_b", "tracking", T0 + timedelta(hours=4))
    assert merchant.fulfillments("shop_b") == [("1001", "1ZB1001"), ("1003", "1ZB1003")]
    assert merchant.fulfillments("shop_a") == [("1001", "1ZA1001")]
    for name in ("shop_a", "shop_b"):
        merchant.run(name, "inventory", T0 + timedelta(hours=1))
    assert a.inventory["SKU-1"] == b.inventory["SKU-1"] == 7  # one file reached both stores
    assert merchant.names("out") == []
    assert sorted(merchant.names("archive")) == ["inv_1.csv", "shp_1.csv"]
    unknown = [r for r in caplog.records if "C-9999" in r.getMessage()]
    assert len(unknown) == 1, [r.getMessage() for r in unknown]  # reported once, not per store
    assert "none of the connections sharing the folder" in unknown[0].getMessage()

    # Round 2, the other store first: the warehouse re-sends shp_1 and adds A's second order.
    merchant.put("out/shp_1.csv", (merchant.get("archive/shp_1.csv") or b"").decode())
    merchant.put("out/shp_2.csv", HEADER + "A-1002,1,SKU-1,1,UPS,Ground,1ZA1002,2026-11-20\r\n")
    merchant.put("out/inv_2.csv", INVENTORY + "SKU-1,5,2026-11-20T10:00:00Z\r\n")
    for name in ("shop_b", "shop_a"):
        merchant.run(name, "tracking", T0 + timedelta(hours=8))
        merchant.run(name, "inventory", T0 + timedelta(hours=2))
    assert merchant.fulfillments("shop_a") == [("1001", "1ZA1001"), ("1002", "1ZA1002")]
    assert merchant.fulfillments("shop_b") == [("1001", "1ZB1001"), ("1003", "1ZB1003")]
    assert a.calls("fulfillmentCreate") == 2 and b.calls("fulfillmentCreate") == 2
    assert a.inventory["SKU-1"] == b.inventory["SKU-1"] == 5
    assert merchant.names("out") == []
    assert len(merchant.names("archive")) == 5  # shp_1 twice (-2 suffix), shp_2, inv_1, inv_2
    assert len([r for r in caplog.records if "C-9999" in r.getMessage()]) == 1


def test_a_shipment_kept_as_unknown_is_handed_over_when_its_order_turns_up(merchant: Merchant):
    """The warehouse confirms B-1001 before B's order run has recorded the file as sent."""
    b = merchant.shops["shop_b"]
    merchant.put("out/shp_1.csv", HEADER + "B-1001,1,SKU-1,1,UPS,Ground,1ZEARLY,2026-11-20\r\n")
    merchant.run("shop_a", "tracking", T0 + timedelta(hours=4))  # nobody sent B-1001 yet
    assert merchant.names("out") == []  # read, kept as unknown, archived
    at = T0 + timedelta(minutes=3)
    b.add_order(1001, updated_at=at, created_at=at)
    merchant.run("shop_b", "orders", T0 + timedelta(minutes=15))
    merchant.run("shop_a", "tracking", T0 + timedelta(hours=8))  # A's run hands it over to B
    assert merchant.fulfillments("shop_b") == []
    merchant.run("shop_b", "tracking", T0 + timedelta(hours=8))
    assert merchant.fulfillments("shop_b") == [("1001", "1ZEARLY")]
    assert merchant.fulfillments("shop_a") == []


def test_the_same_prefix_in_one_folder_stops_the_orders_run(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """Registered by hand, past the setup form: the run refuses before sending anything."""
    entries = registry({"shop_a": "", "shop_b": ""}, merchant.protocol.name)
    monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", json.dumps(entries))
    at = T0 + timedelta(minutes=3)
    merchant.shops["shop_a"].add_order(1001, updated_at=at, created_at=at)
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / "dropstream_connections.py")).dags[
        "dropstream__shop_a__orders"
    ]
    for task in dag.tasks:
        task.retries = 0
    assert dag.test(logical_date=T0 + timedelta(minutes=15)).state == "failed"
    assert "connections 'shop_a' and 'shop_b' share the orders folder /in" in caplog.text
    assert merchant.names("in") == []

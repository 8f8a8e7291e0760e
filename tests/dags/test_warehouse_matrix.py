"""Every protocol x format runs the three flows end to end (issue 3's acceptance matrix).

One connection per combination (FTP, FTPS, SFTP, S3 x header_detail_csv, flat_csv, x12), each
running the real orders, tracking and inventory DAGs with ``dag.test()`` against the real
server and the Shopify emulator: orders land once in one file of the warehouse's layout, a
partial shipment becomes one fulfillment, an inventory snapshot sets quantities, and a rerun of
all three (the warehouse re-sending its files) sends nothing twice.

The registry holds all twelve connections and is parsed into DAGs once for the module: the DAGs
carry their spec, so each run needs only the per-test connections and ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.dags.conftest import DAGS
from tests.dags.warehouse_files import (
    FORMATS,
    file_format,
    file_name,
    format_setting,
    inventory_file,
    order_numbers,
    shipment_file,
)
from tests.dropstream.transports.conformance_adapters import PROTOCOLS, Protocol
from tests.ledgers import sqlite_ledger_url
from tests.servers.shopify import ShopifyEmulator, shopify_connection_json
from tests.specs import ON_THE_HOUR, spec_dict

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # runs end on quarter hours after this
ORDERS_RUN = T0 + timedelta(minutes=15)  # window [10:00, 10:15)
TRACKING_RUN = T0 + timedelta(hours=4)
INVENTORY_RUN = T0 + timedelta(hours=1)


def connection_name(protocol: str, fmt: str) -> str:
    return f"matrix_{protocol}_{fmt}"


def registry_entry(protocol: str, fmt: str) -> dict[str, Any]:
    name = connection_name(protocol, fmt)
    warehouse = dict(spec_dict(name)["warehouse"], protocol=protocol, format=format_setting(fmt))
    warehouse["name"] = f"3PL over {protocol} in {fmt}"
    return spec_dict(name, warehouse=warehouse, schedules=ON_THE_HOUR)


CASES = [
    pytest.param((protocol, fmt), id=f"{protocol.name}-{fmt}", marks=protocol.marks)
    for protocol in PROTOCOLS
    for fmt in FORMATS
]
REGISTRY = json.dumps(
    {connection_name(p.name, f): registry_entry(p.name, f) for p in PROTOCOLS for f in FORMATS}
)


@pytest.fixture(scope="module")
def matrix_dags(airflow_db: None) -> dict[str, Any]:
    """The DAGs of all twelve connections, from one parse of the real generator."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", REGISTRY)
        bag = DagBag(dag_folder=str(DAGS / "dropstream_connections.py"))
    assert not bag.import_errors, bag.import_errors
    for dag in bag.dags.values():
        for task in dag.tasks:  # a failure should fail the test now, not wait out retry delays
            task.retries = 0
    return bag.dags


class Matrix:
    """One combination: its connection's DAGs, its server (seen from behind) and the shop."""

    def __init__(
        self, protocol: Protocol, fmt: str, server: Any, shop: ShopifyEmulator, dags: dict
    ) -> None:
        self.protocol, self.fmt, self.server, self.shop = protocol, fmt, server, shop
        self.name = connection_name(protocol.name, fmt)
        self.format = file_format(fmt)
        self._dags = dags

    def run(self, flow: str, logical_date: datetime) -> None:
        run = self._dags[f"dropstream__{self.name}__{flow}"].test(logical_date=logical_date)
        assert run.state == "success", f"{self.name} {flow} run ended {run.state}"

    def names(self, folder: str) -> list[str]:
        return self.protocol.names(self.server, folder)

    def get(self, path: str) -> bytes | None:
        return self.protocol.get(self.server, path)

    def put(self, path: str, data: bytes) -> None:
        self.protocol.put(self.server, path, data)


@pytest.fixture(params=CASES)
def matrix(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    matrix_dags: dict[str, Any],
    shopify_emulator: ShopifyEmulator,
) -> Matrix:
    protocol, fmt = request.param
    server = request.getfixturevalue(protocol.fixture)  # emptied in/, out/, archive/
    name = connection_name(protocol.name, fmt)
    monkeypatch.setenv("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", REGISTRY)
    monkeypatch.setenv("DROPSTREAM_LEDGER_URL", sqlite_ledger_url(tmp_path))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_DROPSTREAM_{name.upper()}_STORE", shopify_connection_json(shopify_emulator)
    )
    warehouse_conn = f"dropstream_{name}_warehouse"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{warehouse_conn.upper()}",
        protocol.connection_json(server, warehouse_conn),
    )
    return Matrix(protocol, fmt, server, shopify_emulator, matrix_dags)


def test_three_flows_once_each(matrix: Matrix) -> None:
    shop = matrix.shop
    extension = ".edi" if matrix.fmt == "x12" else ".csv"

    # Orders: two orders in the window -> exactly one order file in the format, holding both.
    first = shop.add_order(
        1001,
        updated_at=T0 + timedelta(minutes=3),
        created_at=T0 + timedelta(minutes=3),
        lines=[("SKU-1", 2, "5.00"), ("SKU-2", 1, "7.50")],
    )
    shop.add_order(
        1002,
        updated_at=T0 + timedelta(minutes=14),
        created_at=T0 + timedelta(minutes=14),
        lines=[("SKU-3", 1, "3.00")],
    )
    matrix.run("orders", ORDERS_RUN)
    published = matrix.names("in")
    assert len(published) == 1, published
    order_file = published[0]
    assert order_file.startswith("ord_") and order_file.endswith(extension), order_file
    order_data = matrix.get(f"in/{order_file}")
    assert order_data is not None
    assert sorted(order_numbers(matrix.fmt, order_data)) == ["1001", "1002"]

    # Tracking: one package of order 1001, 1 of its 2 units of SKU-1 -> one (partial) fulfillment.
    shipments_name = file_name(matrix.format.shipment_pattern)
    shipments = shipment_file(matrix.fmt, "1001", [("SKU-1", 1)], tracking="1ZMATRIX01",
                              shipped_on=T0 + timedelta(hours=2))  # fmt: skip
    matrix.put(f"out/{shipments_name}", shipments)
    matrix.run("tracking", TRACKING_RUN)
    assert len(shop.fulfillments) == 1, shop.fulfillments
    fulfillment = shop.fulfillments[0]
    assert fulfillment["order_id"] == first
    assert fulfillment["number"] == "1ZMATRIX01" and fulfillment["company"] == "UPS"
    assert sum(fulfillment["lines"].values()) == 1
    assert matrix.get(f"archive/{shipments_name}") == shipments
    assert matrix.names("out") == []

    # Inventory: a snapshot sets the two SKUs it names; a SKU it does not name is left alone.
    for sku, available in (("SKU-1", 0), ("SKU-2", 0), ("SKU-3", 9)):
        shop.add_variant(sku, available=available)
    inventory_name = file_name(matrix.format.inventory_pattern)
    inventory = inventory_file(matrix.fmt, [("SKU-1", 7), ("SKU-2", 3)],
                               as_of=T0 - timedelta(hours=1))  # fmt: skip
    matrix.put(f"out/{inventory_name}", inventory)
    matrix.run("inventory", INVENTORY_RUN)
    assert shop.inventory == {"SKU-1": 7, "SKU-2": 3, "SKU-3": 9}
    pushes = shop.calls("inventorySetQuantities")
    assert pushes == 1
    assert matrix.get(f"archive/{inventory_name}") == inventory
    assert matrix.names("out") == []
    assert len(matrix.names("archive")) == 2

    # Rerun all three, the warehouse re-sending the same files: nothing is sent twice.
    matrix.put(f"out/{shipments_name}", shipments)
    matrix.put(f"out/{inventory_name}", inventory)
    fetched, fulfilled = shop.calls("orders"), shop.calls("fulfillmentCreate")
    assert fulfilled == 1
    matrix.run("orders", ORDERS_RUN)
    matrix.run("tracking", TRACKING_RUN)
    matrix.run("inventory", INVENTORY_RUN)
    assert shop.calls("orders") > fetched  # the orders rerun did ask the store again
    assert matrix.names("in") == [order_file]
    assert matrix.get(f"in/{order_file}") == order_data
    assert len(shop.fulfillments) == 1
    assert shop.calls("fulfillmentCreate") == fulfilled
    assert shop.calls("inventorySetQuantities") == pushes
    assert shop.inventory == {"SKU-1": 7, "SKU-2": 3, "SKU-3": 9}
    assert matrix.names("out") == []  # read again and archived again
    assert len(matrix.names("archive")) == 4

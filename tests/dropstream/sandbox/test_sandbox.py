"""The sandbox of `make run`: a 3PL that takes DropStream's files and answers in its format, and a
store whose shoppers place and cancel orders. Checked with the product's own readers and a real
FTP client, never by peeking at private state only."""

from __future__ import annotations

import ftplib
import io
from datetime import UTC, datetime, timedelta

import requests

from dropstream.formats import get_format
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from dropstream.sandbox import threepl_files
from dropstream.sandbox.shop import CATALOGUE, SandboxShop
from dropstream.sandbox.warehouse import SimulatedWarehouse, WarehouseSettings
from tests.dropstream.formats.test_header_detail_csv import two_orders, written

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def read(kind: str, data: bytes) -> list:
    fmt = get_format("header_detail_csv", {})
    reader = fmt.read_shipments if kind == "shipments" else fmt.read_inventory
    return list(reader(io.BytesIO(data), file_name=f"{kind}.csv"))


def test_the_3pl_reads_the_order_files_dropstream_writes():
    data = written(get_format("header_detail_csv", {}), two_orders())
    lines = threepl_files.read_order_lines(data)
    assert {n: [(ln.sku, ln.quantity) for ln in v] for n, v in lines.items()} == {
        "1001": [("MUG-BLU", 2), ("TEE-L", 1)],
        "1002-B": [("CAP-01", 3)],
    }


def test_split_shipment_keeps_every_unit():
    one_line = [threepl_files.OrderLine("7", 1, "MUG", 3)]
    first, second = threepl_files.split_in_two(one_line)
    assert [ln.quantity for ln in first + second] == [1, 2]
    single = [threepl_files.OrderLine("8", 1, "MUG", 1)]
    assert threepl_files.split_in_two(single) == (single, [])


def test_warehouse_takes_orders_over_ftp_ships_them_later_and_reports_stock(tmp_path):
    settings = WarehouseSettings(
        root=tmp_path / "warehouse",
        ship_after=timedelta(seconds=30),
        inventory_every=timedelta(minutes=1),
        split_every=2,
        stock={"MUG-BLU": 10, "TEE-L": 10, "CAP-01": 10},
    )
    clock = [T0]
    warehouse = SimulatedWarehouse(settings, clock=lambda: clock[0]).start()
    try:
        # DropStream's transport: upload under a hidden name, then rename into place.
        data = written(get_format("header_detail_csv", {}), two_orders())
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", warehouse.port, timeout=10)
            ftp.login(settings.username, settings.password)
            ftp.storbinary("STOR /in/.ord_1.csv.part", io.BytesIO(data))
            warehouse.tick(T0)  # a half-uploaded file is never taken
            assert (settings.root / "in" / ".ord_1.csv.part").exists()
            ftp.rename("/in/.ord_1.csv.part", "/in/ord_1.csv")
        warehouse.tick(T0 + timedelta(seconds=1))
        assert not (settings.root / "in" / "ord_1.csv").exists()  # taken by the import job
        assert [w["order"] for w in warehouse.snapshot()["waiting"]] == ["1001", "1002-B"]

        warehouse.tick(T0 + timedelta(seconds=20))  # not due yet
        assert not list((settings.root / "out").glob("shp_*.csv"))
        warehouse.tick(T0 + timedelta(seconds=31))
        (shipment_file,) = (settings.root / "out").glob("shp_*.csv")
        shipments = [s for s in read("shipments", shipment_file.read_bytes())]
        assert all(isinstance(s, Shipment) for s in shipments)
        by_order: dict[str, list[Shipment]] = {}
        for shipment in shipments:
            by_order.setdefault(shipment.order_number, []).append(shipment)
        assert len(by_order["1002-B"]) == 2  # every second order leaves in two packages
        assert len(by_order["1001"]) == 1
        shipped = {(s.order_number, line.sku): 0 for s in shipments for line in s.lines}
        for s in shipments:
            for line in s.lines:
                shipped[(s.order_number, line.sku)] += line.quantity
        assert shipped == {("1001", "MUG-BLU"): 2, ("1001", "TEE-L"): 1, ("1002-B", "CAP-01"): 3}
        assert all(s.tracking_number and s.carrier for s in shipments)

        clock[0] = T0 + timedelta(minutes=2)
        warehouse.tick(clock[0])
        newest = sorted((settings.root / "out").glob("inv_*.csv"))[-1]
        levels = {lv.sku: lv.available for lv in read("inventory", newest.read_bytes())}
        assert all(isinstance(lv, InventoryLevel) for lv in read("inventory", newest.read_bytes()))
        assert levels == {"MUG-BLU": 8, "TEE-L": 9, "CAP-01": 7}  # stock follows what shipped
    finally:
        warehouse.stop()
    # A restart carries on: nothing waiting is lost, stock is remembered.
    again = SimulatedWarehouse(settings, clock=lambda: clock[0])
    assert again.state["stock"] == {"MUG-BLU": 8, "TEE-L": 9, "CAP-01": 7}


def test_a_cancel_file_stops_an_order_waiting_to_ship(tmp_path):
    settings = WarehouseSettings(root=tmp_path / "w", stock={"SKU-1": 50})
    warehouse = SimulatedWarehouse(settings, clock=lambda: T0)
    inbound = settings.root / "in"
    (inbound / "ord_1.csv").write_bytes(
        b"PH,1001,,Ada,,1 Main St,,Springfield,OR,97477,US,,,,,,,,,,,UPS_GROUND,,2026-11-20,\r\n"
        b"PD,1001,1,SKU-1,1,10.00\r\n"
        b"PH,1002,,Ada,,1 Main St,,Springfield,OR,97477,US,,,,,,,,,,,UPS_GROUND,,2026-11-20,\r\n"
        b"PD,1002,1,SKU-1,2,10.00\r\n"
    )
    warehouse.tick(T0)
    (inbound / "cxl_1.csv").write_bytes(b"order_number\r\n1002\r\n")
    warehouse.tick(T0 + timedelta(seconds=1))
    assert not list(inbound.iterdir())  # both files taken
    assert [w["order"] for w in warehouse.snapshot()["waiting"]] == ["1001"]
    assert [(c["order"], c["in_time"]) for c in warehouse.snapshot()["cancelled"]] == [
        ("1002", True)
    ]


def test_restock_when_a_sku_runs_low(tmp_path):
    settings = WarehouseSettings(root=tmp_path / "w", stock={"PIN-SET": 2})
    warehouse = SimulatedWarehouse(settings, clock=lambda: T0)
    warehouse.tick(T0)
    (snapshot,) = (settings.root / "out").glob("inv_*.csv")
    assert {lv.sku: lv.available for lv in read("inventory", snapshot.read_bytes())} == {
        "PIN-SET": 60
    }


def test_shop_places_orders_the_shopify_adapter_reads_and_shows_them(tmp_path, monkeypatch):
    from adapters import get_adapter
    from dropstream.sandbox.shopify import shopify_connection_json

    shop = SandboxShop(tmp_path, orders_per_minute=0, seed=7).start()
    try:
        numbers = [shop.place_order(T0 + timedelta(seconds=i)) for i in range(12)]
        assert numbers == [str(n) for n in range(1001, 1013)]
        cancelled = shop.cancel_a_fresh_order(T0 + timedelta(seconds=30))
        monkeypatch.setenv("AIRFLOW_CONN_SANDBOX_SHOP", shopify_connection_json(shop))
        adapter = get_adapter("shopify", "sandbox_shop", {}, connection_name="sandbox")
        try:
            fetched = list(adapter.fetch_orders(T0 - timedelta(minutes=1), T0 + timedelta(hours=1)))
            # Like Shopify, a cancelled order cannot be fulfilled any more.
            gone = next(o for o in shop.store.orders.values() if str(o.number) == cancelled)
            package = Shipment(
                cancelled,
                "1ZCANCELLED",
                "UPS",
                tuple(
                    ShipmentLine(line.sku, line.quantity, line_id=line.id) for line in gone.lines
                ),
                order_id=gone.id,
            )
            result = adapter.push_shipments([package])
            assert not result.accepted and [k for k, _ in result.rejected] == [package.key]
        finally:
            adapter.close()
        # Open, paid, unfulfilled orders: all but the cancelled one, each with a ship method.
        assert sorted(o.number for o in fetched) == sorted(n for n in numbers if n != cancelled)
        assert {o.ship_method for o in fetched} <= {"STANDARD", "EXPRESS", "PIGEON"}
        assert all(line.sku in CATALOGUE for o in fetched for line in o.lines)
        page = requests.get(shop.url + "/", timeout=10)
        assert page.status_code == 200 and "SANDBOX" in page.text
        assert f"#{numbers[-1]}" in page.text
        state = requests.get(shop.url + "/sandbox/state.json", timeout=10).json()
        assert len(state["store"]["orders"]) == 12
        assert [o["status"] for o in state["store"]["orders"]].count("cancelled") == 1
    finally:
        shop.stop()
    # A restart keeps the orders, so order numbers never repeat.
    again = SandboxShop(tmp_path, orders_per_minute=0, seed=7).start()
    try:
        assert again.place_order(T0 + timedelta(minutes=5)) == "1013"
    finally:
        again.stop()

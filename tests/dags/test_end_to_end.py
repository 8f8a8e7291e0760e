"""The three flows end to end: real DAGs run by dag.test(), the real sshd, the Shopify emulator."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.servers.shopify import ShopifyEmulator

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # runs end on quarter hours after this


def order_numbers(files: dict[str, bytes]) -> list[str]:
    """Client order numbers in every order file, one per PH row, in file order."""
    numbers = []
    for content in files.values():
        for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
            if row and row[0] == "PH":
                numbers.append(row[1])
    return numbers


def seed(shop: ShopifyEmulator, number: int, at: datetime, lines=(("SKU-1", 1, "10.00"),)) -> str:
    return shop.add_order(number, updated_at=at, created_at=at, lines=list(lines))


def test_orders_exactly_once_across_runs_and_rerun(deployment):
    shop = deployment.shop
    seed(shop, 1001, T0 + timedelta(minutes=3))
    seed(shop, 1002, T0 + timedelta(minutes=14, seconds=59))
    run = deployment.run("orders", T0 + timedelta(minutes=15))  # window [10:00, 10:15)
    assert run.state == "success"
    first = deployment.files("in")
    assert sorted(order_numbers(first)) == ["1001", "1002"]
    assert len(first) == 1 and all(n.startswith("ord_") and n.endswith(".csv") for n in first)
    seed(shop, 1003, T0 + timedelta(minutes=20))

    run = deployment.run(
        "orders", T0 + timedelta(minutes=30)
    )  # [10:15, 10:30): its overlap re-sees 1002
    assert run.state == "success"
    run = deployment.run("orders", T0 + timedelta(minutes=30))  # rerun of the same interval
    assert run.state == "success"
    files = deployment.files("in")
    assert sorted(order_numbers(files)) == ["1001", "1002", "1003"]
    assert len(files) == 2  # the rerun had nothing new, so it published no empty file
    assert not any(n.startswith(".") for n in files)  # no staged leftovers


def test_backfill_sends_missed_windows_once(deployment):
    shop = deployment.shop
    assert deployment.run("orders", T0).state == "success"  # enabled at 10:00, nothing open
    seed(shop, 2001, T0 + timedelta(minutes=5))  # window 1: [10:00, 10:15)
    seed(shop, 2002, T0 + timedelta(minutes=20))  # window 2: [10:15, 10:30)
    seed(shop, 2003, T0 + timedelta(minutes=40))  # window 3: [10:30, 10:45)
    assert deployment.run("orders", T0 + timedelta(minutes=30)).state == "success"  # window 2 ran
    assert order_numbers(deployment.files("in")) == ["2002"]
    # Backfill: runs for the three past windows, one of which already ran.
    for minutes in (15, 30, 45):
        assert deployment.run("orders", T0 + timedelta(minutes=minutes)).state == "success"
    numbers = order_numbers(deployment.files("in"))
    assert sorted(numbers) == ["2001", "2002", "2003"]
    assert len(numbers) == len(set(numbers))


def test_held_order_waits_and_unpaid_order_never_goes(deployment):
    deployment.register(rules={"ship_method_map": {"STANDARD": "UPS_GROUND"}})  # no default
    shop = deployment.shop
    shop.add_order(
        3001,
        updated_at=T0 + timedelta(minutes=1),
        shipping_line={
            "title": "Carrier pigeon",
            "code": "PIGEON",
            "carrierIdentifier": None,
            "source": "shopify",
        },
    )
    shop.add_order(3002, updated_at=T0 + timedelta(minutes=2), financial_status="PENDING")
    seed(shop, 3003, T0 + timedelta(minutes=3))
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert order_numbers(deployment.files("in")) == ["3003"]  # PIGEON is unmapped: held
    deployment.register(rules={"ship_method_map": {"STANDARD": "UPS_GROUND", "PIGEON": "USPS_PRI"}})
    assert deployment.run("orders", T0 + timedelta(minutes=30)).state == "success"
    files = deployment.files("in")
    assert sorted(order_numbers(files)) == ["3001", "3003"]
    methods = {
        row[1]: row[20]
        for c in files.values()
        for row in csv.reader(io.StringIO(c.decode()))
        if row and row[0] == "PH"
    }
    assert methods == {"3001": "USPS_PRI", "3003": "UPS_GROUND"}


def test_inventory_pushed_once_when_files_seen_twice(deployment):
    shop = deployment.shop
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        shop.add_variant(sku, available=0)
    shop.add_variant("SKU-4", available=9)
    snapshot = (
        "sku,quantity_available,facility,as_of\r\n"
        "SKU-1,10,RENO,2026-11-20T09:00:00Z\r\nSKU-2,5,RENO,2026-11-20T09:00:00Z\r\n"
        "SKU-4,9,RENO,2026-11-20T09:00:00Z\r\n"
    )
    newer = "sku,quantity_available,facility,as_of\r\nSKU-2,7,RENO,2026-11-20T09:30:00Z\r\n"
    deployment.write("out", "inv_0900.csv", snapshot)
    deployment.write("out", "inv_0930.csv", newer)
    assert deployment.run("inventory", T0).state == "success"
    assert shop.inventory["SKU-1"] == 10 and shop.inventory["SKU-2"] == 7  # newest wins
    assert shop.inventory["SKU-3"] == 0  # absent from every file: never zeroed or touched
    calls = shop.calls("inventorySetQuantities")
    assert calls == 1
    assert sorted(deployment.files("archive")) == ["inv_0900.csv", "inv_0930.csv"]
    assert deployment.files("out") == {}
    # The same files appear again (the warehouse re-sends them): nothing is pushed twice.
    deployment.write("out", "inv_0900.csv", snapshot)
    deployment.write("out", "inv_0930.csv", newer)
    assert deployment.run("inventory", T0 + timedelta(hours=1)).state == "success"
    assert shop.calls("inventorySetQuantities") == calls
    assert deployment.files("out") == {}  # read again and archived again, under a new name
    assert len(deployment.files("archive")) == 4


def test_tracking_pushed_once_and_unknown_orders_recorded(deployment):
    shop = deployment.shop
    gid = seed(
        shop, 4001, T0 + timedelta(minutes=2), lines=(("SKU-1", 2, "5.00"), ("SKU-2", 1, "7.50"))
    )
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    shipments = (
        "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,ship_date\r\n"
        "4001,1,SKU-1,1,UPS,Ground,1ZPART1,2026-11-20\r\n"
        "9999,1,SKU-9,1,UPS,Ground,1ZGHOST,2026-11-20\r\n"
    )
    deployment.write("out", "shp_1.csv", shipments)
    assert deployment.run("tracking", T0 + timedelta(hours=4)).state == "success"
    created = [f for f in shop.fulfillments if f["order_id"] == gid]
    assert len(created) == 1
    assert created[0]["number"] == "1ZPART1" and created[0]["company"] == "UPS"
    assert sum(created[0]["lines"].values()) == 1  # partial: 1 of 2 units of SKU-1
    assert deployment.files("archive") == {"shp_1.csv": shipments.encode()}
    # The same confirmation arrives again: no second fulfillment.
    deployment.write("out", "shp_1.csv", shipments)
    assert deployment.run("tracking", T0 + timedelta(hours=8)).state == "success"
    assert len([f for f in shop.fulfillments if f["order_id"] == gid]) == 1
    assert deployment.files("out") == {}
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        assert ledger.shipment_counts(deployment.name) == {"pushed": 1, "unknown_order": 1}
    finally:
        ledger.close()


def test_unreadable_file_moved_aside_and_good_rows_kept(deployment, caplog):
    deployment.shop.add_variant("SKU-1", available=0)
    deployment.shop.add_variant("SKU-2", available=0)
    deployment.write("out", "inv_broken.csv", "this,is,not\r\nan,inventory,file\r\n")
    deployment.write(
        "out",
        "inv_mixed.csv",
        "sku,quantity_available,as_of\r\n"
        "SKU-1,4,2026-11-20T09:00:00Z\r\nSKU-2,lots,2026-11-20T09:00:00Z\r\n",
    )
    assert deployment.run("inventory", T0).state == "success"
    assert deployment.shop.inventory["SKU-1"] == 4  # the valid row of the mixed file
    assert deployment.shop.inventory["SKU-2"] == 0  # its bad row is reported, not guessed
    assert list(deployment.files("archive/error")) == ["inv_broken.csv"]
    assert list(deployment.files("archive")) == ["inv_mixed.csv"]
    logged = caplog.text
    assert "inv_broken.csv" in logged and "moved to" in logged
    assert "inv_mixed.csv, line 3" in logged


# -- the fulfillment rules (issue 11) -------------------------------------------------------------


def order_lines(files: dict[str, bytes]) -> list[tuple[str, str, str, str]]:
    """(order number, line number, SKU, quantity) of every PD row, in file order."""
    return [
        (row[1], row[2], row[3], row[4])
        for content in files.values()
        for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))
        if row and row[0] == "PD"
    ]


def ledger_order(deployment, number: str) -> dict:
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        (row,), _ = ledger.find_orders(deployment.name, numbers=[number])
        return dict(row)
    finally:
        ledger.close()


def test_bundle_goes_as_components_and_its_shipment_closes_the_bundle_line(deployment):
    deployment.register(rules={"bundles": {"KIT": {"MUG": 1, "SPOON": 2}}})
    shop = deployment.shop
    gid = seed(shop, 7001, T0 + timedelta(minutes=2), lines=(("KIT", 2, "30.00"), ("TEE", 1, "5")))
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert order_lines(deployment.files("in")) == [
        ("7001", "1", "MUG", "2"),
        ("7001", "2", "SPOON", "4"),
        ("7001", "3", "TEE", "1"),
    ]
    shipments = (
        "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,ship_date\r\n"
        "7001,1,MUG,2,UPS,Ground,1ZKIT,2026-11-20\r\n"
        "7001,2,SPOON,4,UPS,Ground,1ZKIT,2026-11-20\r\n"
        "7001,3,TEE,1,UPS,Ground,1ZKIT,2026-11-20\r\n"
    )
    deployment.write("out", "shp_kit.csv", shipments)
    assert deployment.run("tracking", T0 + timedelta(hours=4)).state == "success"
    (created,) = [f for f in shop.fulfillments if f["order_id"] == gid]
    kit, tee = (line.id for line in shop.order(gid).lines)
    assert created["lines"] == {kit: 2, tee: 1}  # the bundle line closed, in bundles
    assert shop.order(gid).fulfillment_status == "FULFILLED"


def test_order_inside_hold_minutes_goes_in_a_later_run(deployment):
    import time

    deployment.register(rules={"hold_minutes": 1})
    # The hold period runs on the real clock: placed 40 s ago, the order is too young for the
    # first run (which has 20 s to decide) and old enough after a 21-second wait.
    placed = datetime.now(UTC) - timedelta(seconds=40)
    deployment.shop.add_order(8001, updated_at=T0 + timedelta(minutes=3), created_at=placed)
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert deployment.files("in") == {}  # too young: it waits (not held)
    assert ledger_order(deployment, "8001")["state"] == "received"
    time.sleep(max(0.0, (placed + timedelta(seconds=61) - datetime.now(UTC)).total_seconds()))
    # The next window does not fetch it again (updated 10:03, window from 10:13): the ledger
    # still has it, so this run sends it.
    assert deployment.run("orders", T0 + timedelta(minutes=30)).state == "success"
    assert order_numbers(deployment.files("in")) == ["8001"]
    assert deployment.run("orders", T0 + timedelta(minutes=45)).state == "success"
    assert order_numbers(deployment.files("in")) == ["8001"]  # once


def test_excluded_tag_held_with_the_tag_named_and_gift_cards_never_sent(deployment):
    deployment.register(rules={"exclude_tags": ["fraud-check"]})
    shop = deployment.shop
    at = T0 + timedelta(minutes=2)
    shop.add_order(8101, updated_at=at, created_at=at, tags=["vip", "fraud-check"])
    shop.add_order(
        8102,
        updated_at=at,
        created_at=at,
        lines=[("GIFT-25", 1, "25.00"), ("SKU-1", 1, "10.00"), ("EBOOK", 1, "5.00")],
        gift_card_skus={"GIFT-25"},
        digital_skus={"EBOOK"},
    )
    shop.add_order(8103, updated_at=at, created_at=at, lines=[("GIFT-25", 1, "25.00")],
                   gift_card_skus={"GIFT-25"})  # fmt: skip
    assert deployment.run("orders", T0 + timedelta(minutes=15)).state == "success"
    assert order_lines(deployment.files("in")) == [("8102", "2", "SKU-1", "1")]
    held = ledger_order(deployment, "8101")
    assert (held["state"], held["reason"]) == ("held", "tag 'fraud-check' is on rules.exclude_tags")
    skipped = ledger_order(deployment, "8103")
    assert (skipped["state"], skipped["reason"]) == (
        "skipped",
        "no lines to ship (all skipped by rules, need no shipping, or zero quantity)",
    )


INVENTORY_HEADER = "sku,quantity_available,facility,as_of\r\n"


def inventory_file(at: str, **levels: int) -> str:
    rows = "".join(f"{sku.replace('_', '-')},{qty},RENO,{at}\r\n" for sku, qty in levels.items())
    return INVENTORY_HEADER + rows


def test_suspect_snapshot_pushes_nothing_and_the_next_normal_one_pushes(deployment, caplog):
    deployment.register(rules={"bundles": {"KIT": {"SKU-1": 1, "SKU-2": 2}}})
    shop = deployment.shop
    for sku in ("SKU-1", "SKU-2", "SKU-3", "KIT"):
        shop.add_variant(sku, available=0)
    deployment.write("out", "inv_1.csv", inventory_file("2026-11-20T09:00:00Z",
                                                        SKU_1=10, SKU_2=7, SKU_3=4))  # fmt: skip
    assert deployment.run("inventory", T0).state == "success"
    assert shop.inventory == {"SKU-1": 10, "SKU-2": 7, "SKU-3": 4, "KIT": 3}  # min(10, 7 // 2)
    calls = shop.calls("inventorySetQuantities")

    zeros = inventory_file("2026-11-20T10:00:00Z", SKU_1=0, SKU_2=0, SKU_3=0)
    deployment.write("out", "inv_2.csv", zeros)
    assert deployment.run("inventory", T0 + timedelta(hours=1)).state == "success"
    assert shop.inventory == {"SKU-1": 10, "SKU-2": 7, "SKU-3": 4, "KIT": 3}  # nothing pushed
    assert shop.calls("inventorySetQuantities") == calls
    assert "inv_2.csv is a suspect snapshot and was not pushed" in caplog.text
    assert "would set 3 of the 3 SKUs in stock in the store to zero" in caplog.text
    assert "suspect_snapshots 1" in caplog.text  # the run's SUMMARY line
    from dropstream.ledger import Ledger

    ledger = Ledger()
    try:
        assert [s["source_file"] for s in ledger.suspect_snapshots(deployment.name)] == [
            "inv_2.csv"
        ]
    finally:
        ledger.close()
    assert "inv_2.csv" in deployment.files("archive")  # kept in the ledger, not in /out

    deployment.write("out", "inv_3.csv", inventory_file("2026-11-20T11:00:00Z",
                                                        SKU_1=6, SKU_2=2, SKU_3=4))  # fmt: skip
    assert deployment.run("inventory", T0 + timedelta(hours=2)).state == "success"
    assert shop.inventory == {"SKU-1": 6, "SKU-2": 2, "SKU-3": 4, "KIT": 1}  # bundle follows
    ledger = Ledger()
    try:
        assert ledger.suspect_snapshots(deployment.name) == []
        (gone,) = ledger.suspect_snapshots(deployment.name, "superseded")
        assert gone["source_file"] == "inv_2.csv"
    finally:
        ledger.close()

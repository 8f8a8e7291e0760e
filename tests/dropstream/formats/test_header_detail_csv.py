"""header_detail_csv: order files byte for byte, and what the readers make of real-world files."""

from __future__ import annotations

import csv
import io
import itertools
import os
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from dropstream.errors import ConfigurationError, DataError, FileFormatError
from dropstream.formats import get_format
from dropstream.models import Address, InventoryLevel, Order, OrderLine, Shipment, ShipmentLine

GOLDEN = Path(__file__).parent / "golden"
WHEN = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
# The documented PH columns of v2 (docs/formats.md); v1 lacks two, v3 adds one.
PH_V2 = [
    "record_type", "client_order_number", "customer_po", "customer_email",
    "ship_to_name", "ship_to_address1", "ship_to_address2", "ship_to_city", "ship_to_state",
    "ship_to_postal_code", "ship_to_country", "ship_to_attention", "ship_to_phone",
    "bill_to_name", "bill_to_address1", "bill_to_address2", "bill_to_city", "bill_to_state",
    "bill_to_postal_code", "bill_to_country", "ship_method", "ship_payment_type", "notes",
    "order_date", "channel_code",
]  # fmt: skip
PH = {
    "v1": [c for c in PH_V2 if c not in ("customer_email", "notes")],
    "v2": PH_V2,
    "v3": [*PH_V2, "facility_id"],
}
SHIPMENT_HEADER = (
    "order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,ship_date\r\n"
)
INVENTORY_HEADER = "sku,quantity_available,facility,as_of\r\n"


def fmt(**options):
    return get_format("header_detail_csv", options)


def order(number="1001", **changes) -> Order:
    values = {
        "order_id": f"gid://shopify/Order/{number}",
        "number": number,
        "created_at": datetime(2024, 5, 1, 16, 5, 9, tzinfo=timezone(timedelta(hours=2))),
        "updated_at": WHEN,
        "ship_to": Address(
            name="Zoë Müller", address1="Königstraße 12", address2="3. OG", city="Düsseldorf",
            postal_code="40212", country="DE", state="NW", phone="+49 211 5550100",
            company="Müller & Söhne, GmbH",
        ),
        "lines": (
            OrderLine("gid://l/1", "MUG-BLU", 2, Decimal("12.50"), line_number=1),
            OrderLine("gid://l/2", "TEE-L", 1, Decimal("19"), line_number=2),
        ),
        "email": "zoe@example.com",
        "ship_method": "UPS_GROUND",
        "bill_to": Address("Hans Müller", "Am Markt 1", "Köln", "50667", "DE"),
        "notes": 'Leave with neighbour, "Nr. 14"',
        "channel": "web",
    }  # fmt: skip
    values.update(changes)
    return Order(**values)


def two_orders() -> list[Order]:
    second = order(
        "1002-B",
        ship_to=Address("Sam Lee", "1 Main St", "Springfield", "62701", "US", state="IL"),
        bill_to=None,
        lines=(OrderLine("gid://l/9", "CAP-01", 3, Decimal("7.25"), line_number=1),),
        notes="",
        email="sam@example.com",
        ship_method="USPS_PRIORITY",
    )
    return [order(), second]


def written(fmt_, orders) -> bytes:
    stream = io.BytesIO()
    assert fmt_.write_orders(orders, stream) == len(orders)
    assert not stream.closed
    return stream.getvalue()


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def collect(read, data: bytes, **kwargs):
    errors: list[FileFormatError] = []
    records = list(read(io.BytesIO(data), file_name="f.csv", on_error=errors.append, **kwargs))
    return records, [(e.line, e.reason) for e in errors]


# --- writing orders ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_order_file_matches_golden(version):
    data = written(fmt(version=version, facility="WH-EAST"), two_orders())
    golden = GOLDEN / f"orders_{version}.csv"
    if os.environ.get("DROPSTREAM_REGENERATE_GOLDEN"):
        golden.write_bytes(data)
    assert data == golden.read_bytes()
    assert data.count(b"\r\n") == 5 and b"\r\n\r\n" not in data  # PH, 2 PD, PH, PD


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_order_file_fields_read_back_by_documented_columns(version):
    rows = rows_of(written(fmt(version=version, facility="WH-EAST"), two_orders()))
    assert [row[0] for row in rows] == ["PH", "PD", "PD", "PH", "PD"]
    ph = dict(zip(PH[version], rows[0], strict=True))
    assert ph["client_order_number"] == "1001"
    assert ph["ship_to_name"] == "Zoë Müller"
    assert ph["ship_to_address1"] == "Königstraße 12"
    assert ph["ship_to_attention"] == "Müller & Söhne, GmbH"
    assert ph["ship_to_phone"] == "+49 211 5550100"  # a phone number is not a formula
    assert ph["bill_to_city"] == "Köln"
    assert ph["ship_method"] == "UPS_GROUND"
    assert ph["order_date"] == "2024-05-01T14:05:09Z"  # converted to UTC
    assert ph["channel_code"] == "web"
    if version != "v1":
        assert ph["customer_email"] == "zoe@example.com"
        assert ph["notes"] == 'Leave with neighbour, "Nr. 14"'
    if version == "v3":
        assert ph["facility_id"] == "WH-EAST"
    second = dict(zip(PH[version], rows[3], strict=True))
    assert second["bill_to_name"] == second["bill_to_country"] == ""
    assert rows[1] == ["PD", "1001", "1", "MUG-BLU", "2", "12.50"]
    assert rows[2] == ["PD", "1001", "2", "TEE-L", "1", "19"]
    assert rows[4] == ["PD", "1002-B", "1", "CAP-01", "3", "7.25"]


def test_spreadsheet_formulas_in_shopper_text_are_neutralised_but_numbers_are_not():
    shopper = order(
        ship_to=Address(
            '=HYPERLINK("http://x","y")', "@SUM(A1)", "-Town", "1", "US", phone="+1 (555) 0100"
        ),
        lines=(OrderLine("l", "SKU-1", 1, Decimal("-5.00")),),
        notes="+cmd|' /C calc'!A0",
    )  # fmt: skip
    ph, pd = rows_of(written(fmt(), [shopper]))
    cells = dict(zip(PH["v2"], ph, strict=True))
    assert cells["ship_to_name"] == '\'=HYPERLINK("http://x","y")'
    assert cells["ship_to_address1"] == "'@SUM(A1)"
    assert cells["ship_to_city"] == "'-Town"
    assert cells["notes"] == "'+cmd|' /C calc'!A0"
    assert cells["ship_to_phone"] == "+1 (555) 0100"
    assert pd[-1] == "-5.00"  # a negative price is a number, left alone
    raw = rows_of(written(fmt(neutralize_formulas=False), [shopper]))[0]
    assert raw[PH["v2"].index("ship_to_name")] == '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (order("10 01"), "order 10 01: client order number may only hold letters"),
        (order("1003", ship_method=""), "order 1003: no ship method"),
        (order("1004", lines=()), "order 1004: no lines"),
        (
            order("1005", lines=(OrderLine("l", "S", 0, Decimal(1)),)),
            "order 1005: line 1: quantity",
        ),
    ],
)
def test_a_bad_order_fails_the_file_before_anything_is_written(bad, says):
    stream = io.BytesIO()
    with pytest.raises(FileFormatError) as caught:
        fmt().write_orders([order("1000"), bad], stream)
    assert caught.value.line is None and says in caught.value.reason
    assert isinstance(caught.value, DataError)
    assert stream.getvalue() == b""


def test_file_name_and_patterns():
    f = fmt()
    assert f.order_file_name("batch_7", WHEN) == "ord_batch_7_240501143000.csv"
    assert (f.shipment_pattern, f.inventory_pattern) == ("shp_*.csv", "inv_*.csv")


@pytest.mark.parametrize(
    "options",
    [{"version": "v4"}, {"version": "v3"}, {"encoding": "no-such-codec"}, {"delimiter": ";"}],
)
def test_bad_options_are_configuration_errors(options):
    with pytest.raises(ConfigurationError):
        fmt(**options)


# --- reading shipments ---------------------------------------------------------------------


def test_shipments_group_lines_per_package_and_convert_times_to_utc():
    data = (
        SHIPMENT_HEADER
        + "1001,1,MUG-BLU,1,UPS,Ground,1Z001,2024-05-02T09:15:00-04:00\r\n"
        + "1001,2,TEE-L,1,UPS,Ground,1Z001,2024-05-02T09:15:00-04:00\r\n"
        + "1001,1,MUG-BLU,1,UPS,Ground,1Z002,2024-05-03\r\n"
        + "1002-B,,CAP-01,2,USPS,,9400,2024-05-03 08:00:00\r\n"
    ).encode()
    shipments, errors = collect(fmt().read_shipments, data)
    assert errors == []
    both = (ShipmentLine("MUG-BLU", 1, 1), ShipmentLine("TEE-L", 1, 2))
    assert shipments == [
        Shipment("1001", "1Z001", "UPS", both,
                 service="Ground", shipped_at=datetime(2024, 5, 2, 13, 15, tzinfo=UTC)),
        Shipment("1001", "1Z002", "UPS", (ShipmentLine("MUG-BLU", 1, 1),),
                 service="Ground", shipped_at=datetime(2024, 5, 3, tzinfo=UTC)),
        Shipment("1002-B", "9400", "USPS", (ShipmentLine("CAP-01", 2, None),),
                 shipped_at=datetime(2024, 5, 3, 8, tzinfo=UTC)),
    ]  # fmt: skip


def test_shipment_columns_match_by_name_in_any_order():
    data = (
        "Tracking Number;SKU;Ship-Date;Carrier;Order Number;Quantity Shipped;Warehouse Note\n"
        "1Z9;MUG;2024-05-02;UPS;1001;1;ok\n"
    ).replace(";", ",")
    (shipment,), errors = collect(fmt().read_shipments, data.encode())
    assert (
        errors == [] and shipment.key == "1001|1Z9" and shipment.lines == (ShipmentLine("MUG", 1),)
    )


def test_a_bad_row_holds_back_its_whole_package_and_other_packages_still_arrive():
    data = (
        SHIPMENT_HEADER
        + "1001,1,MUG,1,UPS,Ground,1Z1,2024-05-02\r\n"
        + "1001,2,TEE,lots,UPS,Ground,1Z1,2024-05-02\r\n"
        + "1002,1,CAP,1,UPS,Ground,1Z2,2024-05-02\r\n"
        + "1001,3,HAT,1,UPS,Ground,1Z1,2024-05-02\r\n"
    ).encode()
    shipments, errors = collect(fmt().read_shipments, data)
    assert [s.key for s in shipments] == ["1002|1Z2"]
    assert errors[0] == (
        3,
        "quantity shipped 'lots' is not a whole number; package 1Z1 of order 1001 is skipped",
    )
    assert errors[1][0] == 5 and "must be consecutive" in errors[1][1]


def test_missing_shipment_columns_fail_the_whole_file_by_name():
    data = b"order_number,sku,qty,carrier,service\r\n1001,MUG,1,UPS,Ground\r\n"
    with pytest.raises(FileFormatError) as caught:
        list(fmt().read_shipments(io.BytesIO(data), file_name="shp_1.csv", on_error=print))
    assert caught.value.file == "shp_1.csv" and caught.value.line == 1
    assert "quantity_shipped, tracking_number, ship_date" in caught.value.reason


# --- reading inventory ---------------------------------------------------------------------


def test_inventory_levels_with_facility_from_the_file_or_the_option():
    data = b"sku,quantity_available,as_of\nMUG,7,2024-05-01T10:00:00+02:00\nTEE,0,2024-05-01\n"
    levels, errors = collect(fmt(facility="WH-EAST").read_inventory, data)
    assert errors == []
    assert levels == [
        InventoryLevel("MUG", 7, datetime(2024, 5, 1, 8, tzinfo=UTC), "WH-EAST"),
        InventoryLevel("TEE", 0, datetime(2024, 5, 1, tzinfo=UTC), "WH-EAST"),
    ]
    data = (INVENTORY_HEADER + "MUG,1,A,2024-05-01\r\nMUG,2,B,2024-05-01\r\n").encode()
    levels, errors = collect(fmt().read_inventory, data)
    assert [(lv.facility, lv.available) for lv in levels] == [("A", 1), ("B", 2)] and not errors


GOOD = "MUG,5,WH1,2024-05-01T00:00:00Z\r\n"
NOT_UTF8 = (
    "byte 0xC9 is not valid utf-8; if the warehouse writes Windows-1252 (Excel) files, "
    "set the format option encoding='cp1252'"
)
NOT_ISO = (
    "as-of time 'yesterday' is not an ISO date or date-time "
    "(e.g. 2024-05-01 or 2024-05-01T14:30:00Z)"
)


def inventory(*rows: str, header: str = INVENTORY_HEADER) -> bytes:
    return (header + "".join(rows)).encode()


@pytest.mark.parametrize(
    ("data", "skus", "expected_errors"),
    [
        pytest.param(b"\xef\xbb\xbf" + inventory(GOOD), ["MUG"], [], id="utf8-bom"),
        pytest.param(inventory(GOOD).replace(b"\r\n", b"\n"), ["MUG"], [], id="lf-only"),
        pytest.param(inventory(GOOD, "\r\n\r\n,,,\r\n\n"), ["MUG"], [], id="trailing-blanks"),
        pytest.param(
            inventory(
                '"TEE\r\nXL",x,WH1,2024-05-01\r\n',
                '"CAP\nS",1,WH1,2024-05-01\r\n',
                "HAT,?,WH1,2024-05-01\r\n",
                GOOD,
            ),
            ["CAP\nS", "MUG"],
            [
                (2, "quantity available 'x' is not a whole number"),
                (6, "quantity available '?' is not a whole number"),
            ],
            id="quoted-newlines-keep-line-numbers",
        ),
        pytest.param(
            inventory("TEE,-3,WH1,2024-05-01\r\n", GOOD),
            ["MUG"],
            [(2, "quantity available '-3' is negative")],
            id="negative-quantity",
        ),
        pytest.param(
            inventory("TEE,1,WH1,yesterday\r\n", GOOD), ["MUG"], [(2, NOT_ISO)], id="bad-date"
        ),
        pytest.param(
            inventory(GOOD, "TEE,3,WH1,2024-05-01\r\n", GOOD),
            ["MUG", "TEE"],
            [(4, "SKU 'MUG' at facility 'WH1' already appeared; the first row counts")],
            id="duplicate-sku",
        ),
        pytest.param(
            inventory(GOOD, "CAP,3,WH"),
            ["MUG"],
            [(3, "3 fields where the header row has 4 (truncated line?)")],
            id="truncated-last-line",
        ),
        pytest.param(
            inventory(GOOD, "TEE,3,WH1,2024-05-01,surplus\r\n"),
            ["MUG"],
            [(3, "5 fields where the header row has 4")],
            id="extra-field",
        ),
        pytest.param(
            inventory("CAF\xc9,3,WH1,2024-05-01\r\n").replace(b"\xc3\x89", b"\xc9") + GOOD.encode(),
            ["MUG"],
            [(2, NOT_UTF8)],
            id="undecodable-bytes",
        ),
        pytest.param(
            inventory("TEE," + "9" * 140_000 + ",WH1,2024-05-01\r\n", GOOD),
            ["MUG"],
            [(2, "unreadable CSV: field larger than field limit (131072)")],
            id="csv-error",
        ),
    ],
)
def test_messy_inventory_files(data, skus, expected_errors):
    levels, errors = collect(fmt().read_inventory, data)
    assert errors == expected_errors
    assert [level.sku for level in levels] == skus
    assert levels[skus.index("MUG")] == InventoryLevel(
        "MUG", 5, datetime(2024, 5, 1, tzinfo=UTC), "WH1"
    )


def test_without_on_error_the_first_bad_row_raises_after_the_good_rows_before_it():
    data = (INVENTORY_HEADER + GOOD + "TEE,many,WH1,2024-05-01\r\n" + GOOD).encode()
    levels = fmt().read_inventory(io.BytesIO(data), file_name="inv_1.csv")
    assert next(levels).sku == "MUG"
    with pytest.raises(FileFormatError) as caught:
        next(levels)
    assert str(caught.value) == "inv_1.csv, line 3: quantity available 'many' is not a whole number"


def test_cp1252_option_reads_windows_files_and_utf8_files_alike():
    windows = (INVENTORY_HEADER + "CAFÉ-MUG,3,Entrepôt,2024-05-01\r\n").encode("cp1252")
    levels, errors = collect(fmt(encoding="cp1252").read_inventory, windows)
    assert errors == [] and (levels[0].sku, levels[0].facility) == ("CAFÉ-MUG", "Entrepôt")
    utf8 = b"\xef\xbb\xbf" + (INVENTORY_HEADER + "CAFÉ-MUG,3,Entrepôt,2024-05-01\r\n").encode()
    assert collect(fmt(encoding="cp1252").read_inventory, utf8)[0] == levels


@pytest.mark.parametrize(
    ("data", "line", "says"),
    [
        (b"", None, "empty file"),
        (
            b"sku,available,as_of\r\nMUG,1,2024-05-01\r\n",
            1,
            "lacks required column(s) quantity_available",
        ),  # noqa: E501
        (b"\r\nsku,sku,quantity_available,as_of\r\n", 2, "column 'sku' appears twice"),
        (b"sku,quantit\xe9,as_of\r\n", 1, "header row: byte 0xE9 is not valid utf-8"),
    ],
)
def test_unreadable_header_fails_the_whole_file_even_with_on_error(data, line, says):
    with pytest.raises(FileFormatError) as caught:
        collect(fmt().read_inventory, data)
    assert caught.value.line == line and says in caught.value.reason


class _GeneratedInventory(io.RawIOBase):
    """An inventory file produced as it is read, so only the reader's memory is measured."""

    def __init__(self, rows: int) -> None:
        body = (f"SKU-{n:07d},{n % 50},WH1,2024-05-01\r\n".encode() for n in range(rows))
        self._lines = itertools.chain([INVENTORY_HEADER.encode()], body)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self._pending) < len(buffer):
            line = next(self._lines, None)
            if line is None:
                break
            self._pending += line
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


@pytest.mark.slow
def test_a_200k_line_inventory_file_is_read_without_holding_it():
    stream = io.BufferedReader(_GeneratedInventory(200_000))
    tracemalloc.start()
    try:
        count = sum(1 for _ in fmt().read_inventory(stream, file_name="inv_big.csv"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    # The file is ~6 MB. The duplicate-SKU check is exact, so it holds the distinct keys' bytes
    # (~3.2 MB here) plus an 8-byte slot per key (~2 MB), not a str each (a set: ~23 MB).
    assert peak < 7 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_package_whose_rows_disagree_on_carrier_is_held_back():
    data = (
        SHIPMENT_HEADER
        + "1001,1,MUG,1,UPS,Ground,1Z1,2024-05-02\r\n"
        + "1001,2,TEE,1,FedEx,Ground,1Z1,2024-05-02\r\n"
    ).encode()
    shipments, errors = collect(fmt().read_shipments, data)
    assert shipments == []
    assert errors == [
        (3, "carrier FedEx differs from the package's first row (UPS); package 1Z1 of order 1001 "
            "is skipped"),
    ]  # fmt: skip


def test_readers_leave_the_callers_stream_open_and_name_the_file_in_errors():
    stream = io.BytesIO(inventory(GOOD, "TEE,x,WH1,2024-05-01\r\n"))
    errors: list[FileFormatError] = []
    levels = list(fmt().read_inventory(stream, file_name="inv_7.csv", on_error=errors.append))
    assert [lv.sku for lv in levels] == ["MUG"] and not stream.closed
    assert str(errors[0]) == "inv_7.csv, line 3: quantity available 'x' is not a whole number"


def test_cp1252_option_still_reports_bytes_windows_1252_leaves_undefined():
    data = inventory("TEE\x81,1,WH1,2024-05-01\r\n").replace(b"\xc2\x81", b"\x81")
    _, errors = collect(fmt(encoding="cp1252").read_inventory, data)
    assert errors == [
        (2, "byte 0x81 is neither UTF-8 nor Windows-1252; ask the warehouse which encoding it "
            "writes and set the format option 'encoding' to it"),
    ]  # fmt: skip

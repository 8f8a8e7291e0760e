"""flat_csv: order files byte for byte, column mapping options, and messy warehouse files."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dropstream.errors import ConfigurationError, DataError, FileFormatError
from dropstream.formats import get_format
from dropstream.models import Address, InventoryLevel, OrderLine, Shipment, ShipmentLine
from tests.dropstream.formats.test_header_detail_csv import (
    WHEN,
    _GeneratedInventory,
    collect,
    order,
    two_orders,
    written,
)

GOLDEN = Path(__file__).parent / "golden"
DEFAULT_HEADER = [
    "order_id", "ship_name", "ship_address_1", "ship_address_2", "ship_city", "ship_state",
    "ship_zip", "ship_country", "ship_phone", "email", "shipping_method", "sku", "qty", "price",
]  # fmt: skip
SHIPMENT_HEADER = "order_id,line_number,sku,qty,carrier,service,tracking_number,ship_date\r\n"
INVENTORY_HEADER = "sku,qty,facility,as_of\r\n"
GOOD = "MUG,5,WH1,2024-05-01T00:00:00Z\r\n"


def fmt(**options):
    return get_format("flat_csv", options)


def rows_of(data: bytes, encoding="utf-8", **dialect) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline=""), **dialect))


# --- writing orders ------------------------------------------------------------------------


def test_default_order_file_matches_golden_one_row_per_line():
    data = written(fmt(), two_orders())
    golden = GOLDEN / "flat_orders.csv"
    if os.environ.get("DROPSTREAM_REGENERATE_GOLDEN"):
        golden.write_bytes(data)
    assert data == golden.read_bytes()
    rows = rows_of(data)
    assert rows[0] == DEFAULT_HEADER
    assert [(r[0], r[11], r[12], r[13]) for r in rows[1:]] == [
        ("1001", "MUG-BLU", "2", "12.50"), ("1001", "TEE-L", "1", "19"),
        ("1002-B", "CAP-01", "3", "7.25"),
    ]  # fmt: skip
    assert rows[1][:11] == rows[2][:11]  # header fields repeated on every line


def test_mapped_columns_delimiter_quoting_dates_and_line_ending_match_golden():
    f = fmt(
        columns=[
            {"field": "order_id", "header": "Order #"}, {"field": "order_date", "header": "Date"},
            {"field": "ship_name", "header": "Name"}, {"field": "ship_address_1", "header": "Addr"},
            {"field": "ship_city", "header": "City"}, {"field": "ship_zip", "header": "Zip"},
            {"field": "ship_country", "header": "Country"},
            {"field": "shipping_method", "header": "Via"}, {"field": "sku", "header": "Item"},
            {"field": "qty", "header": "Units"}, {"field": "price", "header": "Each"},
            {"field": "notes", "header": "Notes"},
        ],
        delimiter=";", quoting="nonnumeric", date_format="%d.%m.%Y %H:%M", line_ending="lf",
    )  # fmt: skip
    data = written(f, two_orders())
    golden = GOLDEN / "flat_orders_mapped.csv"
    if os.environ.get("DROPSTREAM_REGENERATE_GOLDEN"):
        golden.write_bytes(data)
    assert data == golden.read_bytes()
    assert b"\r\n" not in data
    first = data.split(b"\n")[1].decode()
    assert first.startswith('"1001";"01.05.2024 14:05";"Zo\u00eb M\u00fcller"')
    assert ';2;12.50;"Leave with neighbour, ""Nr. 14"""' in first  # numbers unquoted


def test_columns_as_a_mapping_and_no_header_row_and_quote_all():
    f = fmt(columns={"sku": "SKU", "qty": "QTY", "order_id": "PO"}, required=["sku"],
            header_row=False, quoting="all")  # fmt: skip
    assert written(f, two_orders()[1:]) == b'"CAP-01","3","1002-B"\r\n'


def test_formulas_neutralised_by_default_and_configurable():
    shopper = order(
        ship_to=Address('=HYPERLINK("http://x","y")', "@SUM(A1)", "-Town", "1", "US",
                        phone="+1 (555) 0100"),
        lines=(OrderLine("l", "=SKU", 1, Decimal("-5.00")),),
    )  # fmt: skip
    row = rows_of(written(fmt(), [shopper]))[1]
    cells = dict(zip(DEFAULT_HEADER, row, strict=True))
    assert cells["ship_name"] == '\'=HYPERLINK("http://x","y")'
    assert cells["ship_address_1"] == "'@SUM(A1)" and cells["ship_city"] == "'-Town"
    assert cells["ship_phone"] == "+1 (555) 0100"
    assert cells["sku"] == "=SKU" and cells["price"] == "-5.00"  # identifiers, numbers verbatim
    raw = rows_of(written(fmt(neutralize_formulas=False), [shopper]))[1]
    assert raw[1] == '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    ("options", "bad", "says"),
    [
        ({}, order("1003", ship_method=""),
         "order 1003: required field 'shipping_method' is empty"),
        ({}, order("1004", lines=()), "order 1004: no lines"),
        ({"required": ["order_id", "email", "sku"]}, order("1005", email=""),
         "order 1005: required field 'email' is empty"),
        ({}, order("1006", lines=(OrderLine("l", "", 1, Decimal(1), 3),)),
         "order 1006: line 3: required field 'sku' is empty"),
        ({}, order("1007", lines=(OrderLine("l", "S", 0, Decimal(1)),)), "quantity 0"),
        ({}, order("1000"), "order 1000: appears twice"),
    ],
)  # fmt: skip
def test_every_order_is_checked_before_anything_is_written(options, bad, says):
    stream = io.BytesIO()
    with pytest.raises(FileFormatError) as caught:
        fmt(**options).write_orders([order("1000"), bad], stream)
    assert caught.value.line is None and says in caught.value.reason
    assert isinstance(caught.value, DataError) and stream.getvalue() == b""


def test_cp1252_writes_windows_bytes_and_rejects_or_transliterates_what_it_lacks():
    data = written(fmt(encoding="cp1252"), two_orders())
    assert "Zoë Müller".encode("cp1252") in data and rows_of(data, "cp1252")[1][1] == "Zoë Müller"
    polish = order(
        "2001", ship_to=Address("Łukasz Wiśniewski", "ul. Źródlana 1", "Łódź", "90", "PL")
    )
    with pytest.raises(FileFormatError) as caught:
        fmt(encoding="cp1252").write_orders([order("2000"), polish], io.BytesIO())
    assert "order 2001:" in caught.value.reason and "errors='replace'" in caught.value.reason
    assert "order 2000" not in caught.value.reason
    row = rows_of(written(fmt(encoding="cp1252", errors="replace"), [polish]), "cp1252")[1]
    assert row[1:5] == ["Lukasz Wisniewski", "ul. Zródlana 1", "", "Lódz"]


def test_file_name_patterns_and_options():
    assert fmt().order_file_name("batch_7", WHEN) == "ord_batch_7_240501143000.csv"
    f = fmt(order_file_pattern="ORDERS-{batch}-{stamp:%Y%m%d}.txt", shipment_pattern="SHIP*.txt",
            inventory_pattern="STOCK*.txt")  # fmt: skip
    assert f.order_file_name("b1", WHEN) == "ORDERS-b1-20240501.txt"
    assert (f.shipment_pattern, f.inventory_pattern) == ("SHIP*.txt", "STOCK*.txt")
    with pytest.raises(FileFormatError):
        f.order_file_name("../x", WHEN)


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"colour": "blue"}, "colour: unknown option"),
        ({"columns": ["order_id", "gift_wrap"]}, "unknown field(s) gift_wrap"),
        ({"columns": ["sku"], "required": ["order_id"]}, "order_id are not among the columns"),
        ({"quoting": "some"}, "quoting"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"encoding": "no-such-codec"}, "encoding"),
        ({"line_ending": "\r"}, "line_ending"),
        ({"order_file_pattern": "ord_{batch}.csv"}, "order_file_pattern"),
        ({"shipment_columns": {"sku": None}}, "sku need a header"),
        ({"inventory_columns": {"colour": "c"}}, "unknown field(s) colour"),
    ],
)
def test_bad_options_are_configuration_errors_naming_the_option(options, names):
    with pytest.raises(ConfigurationError) as caught:
        fmt(**options)
    assert names in str(caught.value)


# --- reading -------------------------------------------------------------------------------


def test_shipments_read_through_the_column_mapping():
    data = (
        b"Tracking;PO;Item;Shipped;SCAC;Date\n"
        b"1Z1;1001;MUG;1;UPSN;05/02/2024\n1Z1;1001;TEE;2;UPSN;05/02/2024\n"
        b"1Z2;1001;CAP;1;UPSN;2024-05-03T10:00:00+02:00\n"
    )
    f = fmt(delimiter=";", date_format="%m/%d/%Y", shipment_columns={
        "tracking_number": "Tracking", "order_number": "PO", "sku": "Item",
        "quantity_shipped": "Shipped", "carrier": "SCAC", "ship_date": "Date",
    })  # fmt: skip
    shipments, errors = collect(f.read_shipments, data)
    assert errors == []
    assert shipments == [
        Shipment("1001", "1Z1", "UPSN", (ShipmentLine("MUG", 1), ShipmentLine("TEE", 2)),
                 shipped_at=datetime(2024, 5, 2, tzinfo=UTC)),
        Shipment("1001", "1Z2", "UPSN", (ShipmentLine("CAP", 1),),
                 shipped_at=datetime(2024, 5, 3, 8, tzinfo=UTC)),
    ]  # fmt: skip


def test_a_bad_shipment_row_holds_back_its_package_only():
    data = (
        SHIPMENT_HEADER + "1001,1,MUG,1,UPS,,1Z1,2024-05-02\r\n"
        "1001,2,TEE,-1,UPS,,1Z1,2024-05-02\r\n1002,1,CAP,1,UPS,,1Z2,2024-05-02\r\n"
    ).encode()
    shipments, errors = collect(fmt().read_shipments, data)
    assert [s.key for s in shipments] == ["1002|1Z2"]
    assert errors == [
        (3, "quantity shipped '-1' is negative; package 1Z1 of order 1001 is skipped")
    ]


def inventory(*rows: str, header: str = INVENTORY_HEADER) -> bytes:
    return (header + "".join(rows)).encode()


@pytest.mark.parametrize(
    ("data", "skus", "expected_errors"),
    [
        pytest.param(b"\xef\xbb\xbf" + inventory(GOOD), ["MUG"], [], id="utf8-bom"),
        pytest.param(inventory(GOOD).replace(b"\r\n", b"\n"), ["MUG"], [], id="lf-only"),
        pytest.param(inventory(GOOD, "\r\n\r\n,,,\r\n\n"), ["MUG"], [], id="trailing-blanks"),
        pytest.param(
            inventory('"TEE\r\nXL",x,WH1,2024-05-01\r\n', "HAT,?,WH1,2024-05-01\r\n", GOOD),
            ["MUG"],
            [
                (2, "quantity available 'x' is not a whole number"),
                (4, "quantity available '?' is not a whole number"),
            ],
            id="quoted-newlines-keep-line-numbers",
        ),  # fmt: skip
        pytest.param(
            inventory(GOOD, "CAP,3,WH"),
            ["MUG"],
            [(3, "3 fields where the header row has 4 (truncated line?)")],
            id="truncated-last-line",
        ),  # fmt: skip
        pytest.param(
            inventory(GOOD, GOOD),
            ["MUG"],
            [(3, "SKU 'MUG' at facility 'WH1' already appeared; the first row counts")],
            id="duplicate-sku",
        ),  # fmt: skip
        pytest.param(
            inventory("CAF\xc9,3,WH1,2024-05-01\r\n").replace(b"\xc3\x89", b"\xc9") + GOOD.encode(),
            ["MUG"],
            [
                (
                    2,
                    "byte 0xC9 is not valid utf-8; if the warehouse writes Windows-1252 (Excel) "
                    "files, set the format option encoding='cp1252'",
                )
            ],
            id="undecodable-bytes",
        ),  # fmt: skip
    ],
)
def test_messy_inventory_files(data, skus, expected_errors):
    levels, errors = collect(fmt().read_inventory, data)
    assert errors == expected_errors
    assert [level.sku for level in levels] == skus


def test_inventory_mapping_cp1252_and_facility_option():
    data = "Artikel\tBestand\tStand\r\nCAFÉ\t3\t01.05.2024\r\n".encode("cp1252")
    f = fmt(encoding="cp1252", delimiter="\t", date_format="%d.%m.%Y", facility="WH-EU",
            inventory_columns={"sku": "Artikel", "quantity_available": "Bestand",
                               "as_of": "Stand", "facility": None})  # fmt: skip
    levels, errors = collect(f.read_inventory, data)
    assert errors == [] and levels == [
        InventoryLevel("CAFÉ", 3, datetime(2024, 5, 1, tzinfo=UTC), "WH-EU")
    ]


def test_missing_mapped_column_fails_the_whole_file_naming_the_header():
    f = fmt(inventory_columns={"quantity_available": "On Hand"})
    with pytest.raises(FileFormatError) as caught:
        collect(f.read_inventory, inventory(GOOD))
    assert caught.value.line == 1 and "lacks required column(s) On Hand" in caught.value.reason


def test_written_orders_read_back_as_a_shipment_file_with_the_same_mapping():
    # A warehouse that echoes our columns and adds its own reads back through the defaults.
    rows = rows_of(written(fmt(), two_orders()))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*rows[0], "carrier", "tracking_number", "ship_date"])
    for row in rows[1:]:
        writer.writerow([*row, "UPS", f"1Z{row[0]}", "2024-05-02"])
    shipments, errors = collect(fmt().read_shipments, out.getvalue().encode())
    assert errors == [] and [(s.order_number, len(s.lines)) for s in shipments] == [
        ("1001", 2),
        ("1002-B", 1),
    ]


@pytest.mark.slow
def test_a_200k_line_inventory_file_is_read_without_holding_it():
    source = _GeneratedInventory(200_000)  # its header names the quantity quantity_available
    f = fmt(inventory_columns={"quantity_available": "quantity_available"})
    tracemalloc.start()
    try:
        count = sum(1 for _ in f.read_inventory(io.BufferedReader(source), file_name="inv.csv"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    # The exact duplicate-SKU check holds the keys' bytes (~3.2 MB) and a slot each (~2 MB).
    assert peak < 7 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"

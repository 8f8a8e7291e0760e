"""Cancel files: X12 940 with W05 F; CSV files with an ``order_number`` column, named by
``cancel_file_pattern``."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dropstream.errors import ConfigurationError, FileFormatError
from dropstream.formats import get_format
from tests.dropstream.formats.test_header_detail_csv import order, two_orders
from tests.dropstream.formats.test_x12 import IDS, counter, segments

STAMP = datetime(2026, 11, 30, 6, 5, 9, tzinfo=UTC)


def cancel_file(f, orders) -> bytes:
    stream = io.BytesIO()
    assert f.write_cancellations(orders, stream, file_name="cxl.csv") == len(
        {o.number for o in orders}
    )
    return stream.getvalue()


@pytest.mark.parametrize("name", ["header_detail_csv", "flat_csv"])
def test_csv_cancel_file_has_an_order_number_column_one_row_per_order(name):
    orders = [*two_orders(), order("1001")]  # the same order twice: one row
    data = cancel_file(get_format(name), orders)
    assert data == b"order_number\r\n1001\r\n1002-B\r\n"


def test_flat_csv_cancel_file_follows_the_connection_s_dialect_and_encoding():
    f = get_format(
        "flat_csv",
        {"delimiter": ";", "quoting": "all", "line_ending": "\n", "encoding": "cp1252"},
    )
    data = cancel_file(f, [order("A-1001"), order("A-1002")])
    assert data == b'"order_number"\n"A-1001"\n"A-1002"\n'
    assert list(csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";")) == [
        ["order_number"],
        ["A-1001"],
        ["A-1002"],
    ]


def test_csv_cancel_file_refuses_a_number_it_cannot_encode_and_writes_nothing():
    stream = io.BytesIO()
    with pytest.raises(FileFormatError) as raised:
        get_format("flat_csv", {"encoding": "ascii"}).write_cancellations(
            [order("1001"), order("Ö-7")], stream, file_name="cxl_x.csv"
        )
    assert "cxl_x.csv" in str(raised.value) and "order Ö-7" in str(raised.value)
    assert stream.getvalue() == b""


@pytest.mark.parametrize("name", ["header_detail_csv", "flat_csv"])
def test_cancel_file_pattern_default_and_option(name):
    assert get_format(name).cancel_file_name("acme-1a2b", STAMP) == "cxl_acme-1a2b_261130060509.csv"
    custom = get_format(name, {"cancel_file_pattern": "CANCEL_{stamp:%Y%m%d}_{batch}.txt"})
    assert custom.cancel_file_name("b1", STAMP) == "CANCEL_20261130_b1.txt"
    with pytest.raises(FileFormatError, match="batch may only hold"):
        custom.cancel_file_name("../x", STAMP)


@pytest.mark.parametrize("name", ["header_detail_csv", "flat_csv"])
@pytest.mark.parametrize(
    "pattern, says",
    [("cxl_{stamp:%y}.csv", "must hold {batch}"), ("cxl/{batch}_{stamp:%y}.csv", "separators"),
     ("cxl_{batch}_{when}.csv", "only {batch}")],
)  # fmt: skip
def test_a_bad_cancel_file_pattern_is_a_configuration_error_naming_the_option(name, pattern, says):
    with pytest.raises(ConfigurationError, match=f"cancel_file_pattern: .*{says}"):
        get_format(name, {"cancel_file_pattern": pattern})


def test_x12_cancel_is_a_940_with_w05_purpose_f_for_each_order():
    f = get_format("x12", IDS)
    stream = io.BytesIO()
    orders = two_orders()
    assert f.write_cancellations(orders, stream, next_control_number=counter(), now=STAMP) == 2
    found = segments(stream.getvalue())  # the envelope checks out (counts, control numbers)
    assert [s[:3] for s in found if s[0] == "W05"] == [
        ["W05", "F", "1001"],
        ["W05", "F", "1002-B"],
    ]
    assert [s[1] for s in found if s[0] == "ST"] == ["940", "940"]
    assert f.cancel_file_name("acme-1", STAMP) == "cxl_acme-1_261130060509.edi"
    custom = get_format("x12", {**IDS, "cancel_file_pattern": "{batch}_{stamp:%H%M}.940"})
    assert custom.cancel_file_name("acme-1", STAMP) == "acme-1_0605.940"


def test_x12_cancel_uses_the_run_s_control_numbers():
    numbers = counter(41)
    f = get_format("x12", IDS).for_run(now=STAMP, next_control_number=numbers)
    stream = io.BytesIO()
    f.write_cancellations([replace(order("1001"))], stream, file_name="cxl.edi")
    (isa,) = [s for s in segments(stream.getvalue()) if s[0] == "ISA"]
    assert int(isa[13]) == 41

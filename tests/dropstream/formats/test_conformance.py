"""Every format, one contract: order files that parse, sane names, and readers that only ever
fail with FileFormatError, whatever bytes arrive (fuzzed with hypothesis).

Adding a format to ``dropstream.formats.FORMATS`` means adding its entry to ``SAMPLES`` below;
the suite then checks it for free.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dropstream.errors import FileFormatError
from dropstream.formats import FORMATS, _csv, get_format
from dropstream.formats.base import FileFormat
from dropstream.formats.x12.envelope import Envelope, read_segments
from tests.dropstream.formats.test_header_detail_csv import two_orders
from tests.dropstream.formats.test_x12 import ADVICE, STOCK, interchange

WHEN = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)


def _csv_order_numbers(data: bytes, first_cell: str | None) -> set[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    if first_cell:  # header/detail: PH rows carry the order number in column 2
        return {row[1] for row in rows if row[0] == first_cell}
    header = rows[0]
    return {row[header.index("order_id")] for row in rows[1:]}


def _x12_order_numbers(data: bytes) -> set[str]:
    envelope, numbers = Envelope("orders.edi"), set()
    for segment in read_segments(io.BytesIO(data), "orders.edi", _csv.text_encoding("utf-8")):
        envelope.check(segment)
        if segment.id == "W05":
            numbers.add(segment.get(2))
    envelope.finish(0)
    return numbers


def _counter() -> Callable[[str], int]:
    numbers = itertools.count(1)
    return lambda _name: next(numbers)


# name -> (options, order-file reader helper, a valid shipment file, a valid inventory file)
SAMPLES: dict[str, tuple[Callable[[], dict], Callable[[bytes], set[str]], bytes, bytes]] = {
    "header_detail_csv": (
        dict,
        lambda data: _csv_order_numbers(data, "PH"),
        b"order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,"
        b"ship_date\r\n1001,1,MUG,1,UPS,Ground,1Z1,2024-05-02\r\n",
        b"sku,quantity_available,facility,as_of\r\nMUG,42,WH1,2024-05-01T06:00:00Z\r\n",
    ),
    "flat_csv": (
        dict,
        lambda data: _csv_order_numbers(data, None),
        b"order_id,line_number,sku,qty,carrier,service,tracking_number,ship_date\r\n"
        b"1001,1,MUG,1,UPS,Ground,1Z1,2024-05-02\r\n",
        b"sku,qty,facility,as_of\r\nMUG,42,WH1,2024-05-01T06:00:00Z\r\n",
    ),
    "x12": (
        lambda: {"sender_id": "DROPSTREAM", "receiver_id": "WH1", "control_numbers": _counter()},
        _x12_order_numbers,
        interchange(ADVICE).encode(),
        interchange(STOCK, set_id="846").encode(),
    ),
}


def make(name: str) -> FileFormat:
    return get_format(name, SAMPLES[name][0]())


def test_every_format_has_samples():
    assert set(SAMPLES) == set(FORMATS)


@pytest.mark.parametrize("name", FORMATS)
def test_written_orders_are_non_empty_and_parse_back_to_the_same_orders(name):
    stream = io.BytesIO()
    assert make(name).write_orders(two_orders(), stream) == 2
    assert stream.getvalue() and not stream.closed
    assert SAMPLES[name][1](stream.getvalue()) == {"1001", "1002-B"}


@pytest.mark.parametrize("name", FORMATS)
def test_order_file_names_follow_the_convention_and_never_match_what_we_read(name):
    f = make(name)
    first, later = (
        f.order_file_name("b-7", WHEN),
        f.order_file_name("b-7", WHEN + timedelta(seconds=1)),
    )
    extension = f.shipment_pattern.rsplit(".", 1)[-1]
    assert fnmatchcase(first, f"ord_b-7_*.{extension}") and first != later
    assert "/" not in first and not first.startswith(".")
    assert not fnmatchcase(first, f.shipment_pattern) and not fnmatchcase(
        first, f.inventory_pattern
    )
    with pytest.raises(FileFormatError):
        f.order_file_name("../etc", WHEN)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("kind", ["shipments", "inventory"])
def test_the_valid_samples_read_without_errors(name, kind):
    f, data = make(name), SAMPLES[name][2 if kind == "shipments" else 3]
    errors: list[FileFormatError] = []
    read = f.read_shipments if kind == "shipments" else f.read_inventory
    assert list(read(io.BytesIO(data), file_name="s", on_error=errors.append)) and not errors


def _only_file_format_errors(f: FileFormat, kind: str, data: bytes) -> None:
    """Read ``data`` with and without on_error: anything raised must be a FileFormatError."""
    read = f.read_shipments if kind == "shipments" else f.read_inventory
    reported: list[FileFormatError] = []
    for on_error in (reported.append, None):
        try:
            for _ in read(io.BytesIO(data), file_name="fuzz", on_error=on_error):
                pass
        except FileFormatError as error:
            assert error.file == "fuzz" and error.reason
    assert all(isinstance(error, FileFormatError) for error in reported)


GARBAGE = [b"", b"\xef\xbb\xbf", b"\xff\xfe\x00", b"\r\n\r\n", b"ISA", b"ISA*", b"\x00" * 200,
           b"ISA" + b"*" * 200, b'"unterminated\r\n', b"~" * 50, b",,,\r\n" * 3]  # fmt: skip


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("kind", ["shipments", "inventory"])
@pytest.mark.parametrize("data", GARBAGE)
def test_known_garbage_only_ever_raises_file_format_error(name, kind, data):
    _only_file_format_errors(make(name), kind, data)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("kind", ["shipments", "inventory"])
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_only_ever_raise_file_format_error(name, kind, data):
    _only_file_format_errors(make(name), kind, data)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("kind", ["shipments", "inventory"])
@FUZZ
@given(cut=st.integers(min_value=0), at=st.integers(min_value=0), junk=st.binary(max_size=12))
def test_truncated_and_corrupted_samples_only_ever_raise_file_format_error(
    name, kind, cut, at, junk
):
    sample = SAMPLES[name][2 if kind == "shipments" else 3]
    at %= len(sample) + 1
    data = (sample[:at] + junk + sample[at:])[: len(sample) + len(junk) - cut % (len(sample) + 1)]
    _only_file_format_errors(make(name), kind, data)

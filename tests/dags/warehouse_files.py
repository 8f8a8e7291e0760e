"""Warehouse files in each format, as a 3PL would write them, and readers for the order files
DropStream publishes: what ``test_warehouse_matrix.py`` seeds and checks on every server.

Shipment and inventory files are written by hand here, in each format's documented layout
(docs/formats.md), never by DropStream's own code, so a reader bug cannot hide behind a
matching writer bug.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

FORMATS: tuple[str, ...] = ("header_detail_csv", "flat_csv", "x12")

#: X12 ids: ours (ISA06/GS02 on the 940) and the warehouse's (ISA08/GS03).
OUR_ID = "DROPSTREAM"
WAREHOUSE_ID = "WAREHOUSE1"


def format_setting(name: str) -> str | dict[str, Any]:
    """The registry's ``warehouse.format`` for ``name``: its defaults, plus the ids X12 needs."""
    if name == "x12":
        return {"name": "x12", "options": {"sender_id": OUR_ID, "receiver_id": WAREHOUSE_ID}}
    return name


def file_format(name: str):
    """The configured format object (for its file-name patterns)."""
    from dropstream.formats import get_format

    setting = format_setting(name)
    options = setting["options"] if isinstance(setting, dict) else {}
    return get_format(name, options)


def file_name(pattern: str, stem: str = "1") -> str:
    """A concrete name matching the glob ``pattern`` (``shp_*.csv`` -> ``shp_1.csv``)."""
    return pattern.replace("*", stem, 1)


# -- order files we publish --------------------------------------------------------------------


def order_numbers(name: str, data: bytes) -> list[str]:
    """Client order numbers in one order file of format ``name``, one per order, in file order.

    Raises AssertionError when the file is not a well-formed order file of that format.
    """
    if name == "header_detail_csv":
        return _header_detail_numbers(data)
    if name == "flat_csv":
        return _flat_numbers(data)
    if name == "x12":
        return _x12_940_numbers(data)
    raise ValueError(name)


def _header_detail_numbers(data: bytes) -> list[str]:
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff"), "order files carry no byte-order mark"
    numbers: list[str] = []
    for row in csv.reader(io.StringIO(text, newline="")):
        if not row:
            continue
        assert row[0] in ("PH", "PD"), row
        if row[0] == "PH":
            assert len(row) == 25, f"a v2 PH row has 25 fields: {row}"
            numbers.append(row[1])
        else:
            assert numbers and row[1] == numbers[-1], f"PD row outside its order: {row}"
            assert len(row) == 6, row
    return numbers


def _flat_numbers(data: bytes) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows, "a flat order file holds at least one line"
    assert list(rows[0]) == [
        "order_id", "ship_name", "ship_address_1", "ship_address_2", "ship_city", "ship_state",
        "ship_zip", "ship_country", "ship_phone", "email", "shipping_method", "sku", "qty", "price",
    ]  # fmt: skip
    numbers: list[str] = []
    for row in rows:
        assert row["sku"] and int(row["qty"]) >= 1, row
        if not numbers or numbers[-1] != row["order_id"]:
            assert row["order_id"] not in numbers, f"order rows not consecutive: {row}"
            numbers.append(row["order_id"])
    return numbers


def _x12_940_numbers(data: bytes) -> list[str]:
    """Order numbers of the 940 sets, the envelope checked as the file is read."""
    from dropstream.formats import _csv
    from dropstream.formats.x12.envelope import Envelope, read_segments

    envelope, count, numbers, sets = Envelope("order file"), 0, [], []
    for segment in read_segments(io.BytesIO(data), "order file", _csv.text_encoding("utf-8")):
        envelope.check(segment)
        count += 1
        elements = segment.elements
        if elements[0] == "ISA":
            assert elements[6].strip() == OUR_ID and elements[8].strip() == WAREHOUSE_ID
        elif elements[0] == "GS":
            assert elements[1:4] == ["OW", OUR_ID, WAREHOUSE_ID], elements
        elif elements[0] == "ST":
            sets.append(elements[1])
        elif elements[0] == "W05":
            assert elements[1] == "N", f"an original order, not {elements}"
            numbers.append(elements[2])
    envelope.finish(count)
    assert sets == ["940"] * len(numbers), (sets, numbers)
    return numbers


# -- files the warehouse sends -----------------------------------------------------------------


def shipment_file(
    name: str,
    order_number: str,
    lines: Sequence[tuple[str, int]],
    *,
    tracking: str,
    carrier: str = "UPS",
    service: str = "Ground",
    shipped_on: datetime,
) -> bytes:
    """One package of ``order_number`` (``lines`` = (sku, quantity shipped)) in format ``name``."""
    day = shipped_on.strftime("%Y-%m-%d")
    if name == "header_detail_csv":
        rows = ["order_number,line_number,sku,quantity_shipped,carrier,service,tracking_number,"
                "ship_date"]  # fmt: skip
        rows += [
            f"{order_number},{n},{sku},{qty},{carrier},{service},{tracking},{day}"
            for n, (sku, qty) in enumerate(lines, start=1)
        ]
        return _crlf(rows)
    if name == "flat_csv":
        rows = ["order_id,sku,qty,carrier,service,tracking_number,ship_date"]
        rows += [
            f"{order_number},{sku},{qty},{carrier},{service},{tracking},{day}" for sku, qty in lines
        ]
        return _crlf(rows)
    if name == "x12":
        body = [
            f"W06*F*{order_number}*{shipped_on:%Y%m%d}*SHP{order_number}",
            f"W27*U*{carrier}*{service}",
            "LX*1",
            f"MAN*CP*{tracking}",
        ]
        body += [f"W12*CC*{qty}*{qty}*0*EA**SK*{sku}" for sku, qty in lines]
        body.append(f"W03*{sum(qty for _, qty in lines)}")
        return _interchange("945", "SW", body, shipped_on)
    raise ValueError(name)


def inventory_file(name: str, levels: Sequence[tuple[str, int]], *, as_of: datetime) -> bytes:
    """An inventory snapshot (``levels`` = (sku, quantity available)) in format ``name``."""
    stamp = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "header_detail_csv":
        return _crlf(["sku,quantity_available,as_of", *(f"{s},{q},{stamp}" for s, q in levels)])
    if name == "flat_csv":
        return _crlf(["sku,qty,as_of", *(f"{s},{q},{stamp}" for s, q in levels)])
    if name == "x12":
        body = [f"BIA*00*MM*INV1*{as_of:%Y%m%d}*{as_of:%H%M}"]
        for sku, quantity in levels:
            body += [f"LIN**SK*{sku}", f"QTY*33*{quantity}*EA"]
        body.append(f"CTT*{len(levels)}*{sum(q for _, q in levels)}")
        return _interchange("846", "IB", body, as_of)
    raise ValueError(name)


def _crlf(rows: list[str]) -> bytes:
    return "".join(row + "\r\n" for row in rows).encode("utf-8")


def _interchange(set_id: str, group: str, body: list[str], at: datetime) -> bytes:
    """One interchange from the warehouse holding one transaction set ``set_id``."""
    isa = "*".join([
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", WAREHOUSE_ID.ljust(15), "ZZ",
        OUR_ID.ljust(15), f"{at:%y%m%d}", f"{at:%H%M}", "U", "00401", "000000007", "0", "P", ">",
    ])  # fmt: skip
    assert len(isa) == 105  # + the terminator: exactly 106 characters
    segments = [
        isa,
        f"GS*{group}*{WAREHOUSE_ID}*{OUR_ID}*{at:%Y%m%d}*{at:%H%M}*11*X*004010",
        f"ST*{set_id}*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        "GE*1*11",
        "IEA*1*000000007",
    ]
    return "".join(f"{segment}~\n" for segment in segments).encode("ascii")

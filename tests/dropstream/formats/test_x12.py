"""x12: 940 envelopes byte for byte, hostile data, and 945/846 files with any separators."""

from __future__ import annotations

import io
import itertools
import os
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dropstream.errors import ConfigurationError, FileFormatError
from dropstream.formats import _csv, get_format
from dropstream.formats.x12.envelope import Envelope, read_segments
from dropstream.ledger import Ledger
from dropstream.models import Address, InventoryLevel, Shipment, ShipmentLine
from tests.dropstream.formats.test_header_detail_csv import collect, order, two_orders
from tests.ledgers import sqlite_ledger_url

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)
IDS = {"sender_id": "DROPSTREAM", "receiver_id": "WAREHOUSE1"}


def fmt(**options):
    return get_format("x12", {**IDS, **options})


def counter(start: int = 1):
    numbers = itertools.count(start)
    return lambda _name: next(numbers)


def written(f, orders, *, cancel=False, **kwargs) -> bytes:
    stream = io.BytesIO()
    write = f.write_cancellations if cancel else f.write_orders
    kwargs.setdefault("next_control_number", counter())
    assert write(orders, stream, now=NOW, **kwargs) == len(orders)
    return stream.getvalue()


def segments(data: bytes) -> list[list[str]]:
    """The file's segments, each checked against the envelope rules on the way."""
    envelope, found = Envelope("t.edi"), []
    for segment in read_segments(io.BytesIO(data), "t.edi", _csv.text_encoding("utf-8")):
        envelope.check(segment)
        found.append(segment.elements)
    envelope.finish(len(found))
    return found


def interchange(*sets: list[str], set_id="945", el="*", sub=">", term="~", after="", isa13=7):
    """A valid interchange around ``sets`` (each a list of 'ID*a*b' segments written with '*')."""
    isa = el.join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "WAREHOUSE1".ljust(15), "ZZ",
                   "DROPSTREAM".ljust(15), "240502", "0915", "U", "00401", f"{isa13:09d}", "0",
                   "P", sub])  # fmt: skip
    group = "IB" if set_id == "846" else "SW"
    out = [isa, f"GS*{group}*WAREHOUSE1*DROPSTREAM*20240502*0915*11*X*004010"]
    for number, body in enumerate(sets, start=1):
        st = f"{number:04d}"
        out += [f"ST*{set_id}*{st}", *body, f"SE*{len(body) + 2}*{st}"]
    out += [f"GE*{len(sets)}*11", f"IEA*1*{isa13:09d}"]
    return "".join(s.replace("*", el) + term + after for s in out[:1]) + "".join(
        s.replace("*", el).replace(">", sub) + term + after for s in out[1:]
    )


ADVICE = [
    "W06*F*1001*20240502*SHP1**PO1",
    "N1*ST*Zoe Muller",
    "W27*U*UPSN*GROUND",
    "LX*1", "MAN*CP*1Z001", "W12*CC*2*2*0*EA**VN*MUG-BLU", "W12*CC*1*1*0*EA**SK*TEE-L",
    "LX*2", "MAN*CP*1Z002", "W12*PR*2*1*1*EA**VN*OTHER*********SK*CAP-01",
    "W03*4",
]  # fmt: skip
EXPECTED = [
    Shipment("1001", "1Z001", "UPSN", (ShipmentLine("MUG-BLU", 2), ShipmentLine("TEE-L", 1)),
             service="GROUND", shipped_at=datetime(2024, 5, 2, tzinfo=UTC)),
    Shipment("1001", "1Z002", "UPSN", (ShipmentLine("CAP-01", 1),), service="GROUND",
             shipped_at=datetime(2024, 5, 2, tzinfo=UTC)),
]  # fmt: skip
STOCK = [
    "BIA*00*MM*INV1*20240501*0600", "LIN**SK*MUG-BLU*UP*012345678905", "QTY*33*42*EA",
    "QTY*17*50*EA", "LIN**VN*TEE-L", "QTY*33*0", "DTM*405*20240501*1230", "CTT*2*42",
]  # fmt: skip


# --- writing 940s --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cancel", "golden"), [(False, "x12_940.edi"), (True, "x12_940_cancel.edi")]
)
def test_940_matches_golden_and_its_envelope_checks_out(cancel, golden):
    data = written(fmt(line_break="\n"), two_orders(), cancel=cancel)
    path = GOLDEN / golden
    if os.environ.get("DROPSTREAM_REGENERATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes()
    found = segments(data)
    assert [s[0] for s in found].count("ST") == 2
    assert [s[:2] for s in found if s[0] == "W05"] == [["W05", "F" if cancel else "N"]] * 2


def test_isa_is_106_characters_and_counts_and_control_numbers_match():
    data = written(fmt(sender_qualifier="01", sender_id="1"), two_orders(),
                   next_control_number=counter(41)).decode()  # fmt: skip
    assert len(data.split("~")[0] + "~") == 106
    found = segments(data.encode())
    isa, gs = found[0], found[1]
    assert isa[5:9] == ["01", "1".ljust(15), "ZZ", "WAREHOUSE1".ljust(15)]
    assert isa[13] == "000000041" and gs[6] == "42" and gs[2:4] == ["1", "WAREHOUSE1"]
    starts = [i for i, s in enumerate(found) if s[0] == "ST"]
    ends = [i for i, s in enumerate(found) if s[0] == "SE"]
    for st, se in zip(starts, ends, strict=True):
        assert found[se][1] == str(se - st + 1) and found[se][2] == found[st][2]
    assert found[-2] == ["GE", "2", "42"] and found[-1] == ["IEA", "1", "000000041"]


def test_control_numbers_persist_per_connection_through_the_ledger(tmp_path):
    url = sqlite_ledger_url(tmp_path)
    ledger = Ledger(url)
    try:
        numbers = []
        for conn in ("acme", "acme", "other"):

            def next_number(name: str, conn: str = conn) -> int:
                return ledger.next_counter(conn, f"x12_{name}")

            numbers.append(
                segments(written(fmt(), [order()], next_control_number=next_number))[0][13]
            )
    finally:
        ledger.close()
    again = Ledger(url)
    try:
        data = written(
            fmt(), [order()], next_control_number=lambda n: again.next_counter("acme", f"x12_{n}")
        )
    finally:
        again.close()
    assert numbers == ["000000001", "000000002", "000000001"]
    assert segments(data)[0][13] == "000000003"


def test_separators_in_shopper_data_never_split_or_inject_a_segment():
    evil = order(ship_to=Address("Bob*Evil~ST*940", "1 Main>St\nIEA*1", "Town", "1", "US"),
                 notes="a~b*c")  # fmt: skip
    found = segments(written(fmt(), [evil]))
    assert ["N1", "ST", "Bob Evil ST 940"] in found
    assert ["N3", "1 Main St IEA 1"] in found and ["NTE", "WHI", "a b c"] in found
    assert [s[0] for s in found].count("ST") == 1
    with pytest.raises(FileFormatError) as caught:
        written(fmt(separators_in_data="reject"), [order("1000"), evil])
    assert "order 1001:" in caught.value.reason and "'*'" in caught.value.reason


def test_custom_separators_are_used_and_data_is_cleaned_of_them():
    f = fmt(element_separator="|", sub_element_separator="^", segment_terminator="\n")
    data = written(f, [order(notes="pipe|here^too")])
    assert data.startswith(b"ISA|00|") and data.split(b"\n")[0].endswith(b"|P|^")
    assert ["NTE", "WHI", "pipe here too"] in segments(data)


@pytest.mark.parametrize(
    ("bad", "says"),
    [(order("1003", ship_method=""), "order 1003: no ship method"),
     (order("1004", lines=()), "order 1004: no lines")],
)  # fmt: skip
def test_a_bad_order_fails_the_file_before_anything_is_written(bad, says):
    stream = io.BytesIO()
    with pytest.raises(FileFormatError) as caught:
        fmt().write_orders([order("1000"), bad], stream, next_control_number=counter())
    assert says in caught.value.reason and stream.getvalue() == b""


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"sender_id": None}, "sender_id"),
        ({"receiver_id": "X" * 16}, "receiver_id"),
        ({"sender_qualifier": "Z"}, "sender_qualifier"),
        ({"element_separator": "~"}, "must differ"),
        ({"segment_terminator": "A"}, "segment_terminator"),
        ({"flavour": 1}, "flavour: unknown option"),
    ],
)
def test_bad_options_are_configuration_errors_naming_the_option(options, says):
    values = {**IDS, **options}
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(ConfigurationError) as caught:
        get_format("x12", values)
    assert says in str(caught.value)


def test_writing_without_control_numbers_is_a_configuration_error_and_the_option_works():
    with pytest.raises(ConfigurationError, match="control numbers"):
        fmt().write_orders([order()], io.BytesIO())
    stream = io.BytesIO()
    fmt(control_numbers=counter(5)).write_orders([order()], stream, now=NOW)
    assert segments(stream.getvalue())[0][13] == "000000005"
    assert fmt().order_file_name("b7", NOW) == "ord_b7_240501143000.edi"


# --- reading 945 and 846 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "separators",
    [{}, {"el": "|", "sub": "^", "term": "\n"},
     {"el": "|", "sub": ":", "term": "'", "after": "\r\n"},
     {"term": "~", "after": "\n"}, {"el": "\x1d", "sub": "\x1f", "term": "\x1c"}],
)  # fmt: skip
def test_945_shipments_with_any_separators_the_isa_declares(separators):
    data = interchange(ADVICE, **separators).encode()
    shipments, errors = collect(fmt().read_shipments, data)
    assert errors == [] and shipments == EXPECTED


def test_945_shipped_date_and_bad_lines_hold_back_only_their_package():
    advice = [*ADVICE[:4], "G62*11*20240503*8*1015", *ADVICE[4:6],
              "W12*CC*1*x*0*EA**SK*TEE-L", *ADVICE[7:]]  # fmt: skip
    data = interchange(advice, ["W06*F**20240502"]).encode()
    shipments, errors = collect(fmt().read_shipments, data)
    assert [s.key for s in shipments] == ["1001|1Z002"]
    assert shipments[0].shipped_at == datetime(2024, 5, 3, 10, 15, tzinfo=UTC)
    assert errors == [
        (11, "W12: quantity shipped (W12-03) 'x' is not a whole number; package 1Z001 is skipped"),
        (18, "W06: depositor order number (W06-02) is missing; the whole 945 is skipped"),
    ]


def test_846_inventory_with_qualifiers_dates_and_non_default_separators():
    data = interchange(STOCK, set_id="846", el="|", sub="^", term="\n").encode()
    levels, errors = collect(fmt(facility="WH1").read_inventory, data)
    assert errors == []
    assert levels == [
        InventoryLevel("MUG-BLU", 42, datetime(2024, 5, 1, 6, tzinfo=UTC), "WH1"),
        InventoryLevel("TEE-L", 0, datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "WH1"),
    ]
    levels, _ = collect(fmt(quantity_qualifier="17").read_inventory, data)
    assert [(lv.sku, lv.available) for lv in levels] == [("MUG-BLU", 50)]


def test_846_bad_items_are_reported_by_segment_and_the_rest_still_read():
    stock = ["BIA*00*MM*INV1*20240501", "LIN**SK*A", "QTY*33*-1", "LIN**SK*B", "QTY*33*5",
             "LIN**ZZ*C", "QTY*33*1", "LIN**SK*B", "QTY*33*6", "LIN**SK*D", "CTT*9"]  # fmt: skip
    levels, errors = collect(fmt().read_inventory, interchange(stock, set_id="846").encode())
    assert [(lv.sku, lv.available) for lv in levels] == [("B", 5)]
    assert errors == [
        (5, "LIN: quantity available '-1' is negative"),
        (9, "LIN: no SKU under qualifiers SK/VN/BP/IN/UP"),
        (11, "LIN: SKU 'B' already appeared; the first LIN counts"),
        (13, "LIN: SKU 'D' has no QTY with qualifier 33"),
        (14, "CTT: CTT-01 says 9 LIN items, counted 5"),
    ]


def good() -> str:
    return interchange(ADVICE)


@pytest.mark.parametrize(
    ("data", "line", "says"),
    [
        ("", None, "empty file"),
        ("\ufeff", None, "empty file"),
        ("GS*SW*A*B~", 1, "expected 'ISA'"),
        (good().replace("SE*13*0001", "SE*12*0001"), 15,
         "segment SE: says 12 segments, counted 13"),
        (good().replace("SE*13*0001", "SE*13*0002"), 15,
         "control number '0002' does not match ST02"),
        (good().replace("GE*1*11", "GE*2*11"), 16, "says 2 transaction sets, counted 1"),
        (good().replace("GE*1*11", "GE*1*12"), 16, "control number '12' does not match GS06"),
        (good().replace("IEA*1*000000007", "IEA*1*000000008"), 17, "does not match ISA13"),
        (good()[: good().index("GE*")], 15, "file ends inside GS"),
        (good()[:-5], 17, "file ends inside a segment"),
        (good().replace("N1*ST", "ST*945*9~N1*ST"), 5, "ST opens before the previous ST"),
        (good().replace("GS*SW", "XX*1~GS*SW"), 2, "outside a transaction set"),
        (good().replace("ISA*00*", "ISA*00*", 1)[:60], 1, "fewer than 16 elements"),
        (good() + "garbage", 18, "expected 'ISA'"),
    ],
)  # fmt: skip
def test_broken_envelopes_fail_the_whole_file_naming_the_segment(data, line, says):
    with pytest.raises(FileFormatError) as caught:
        collect(fmt().read_shipments, data.encode())
    assert (caught.value.file, caught.value.line) == ("f.csv", line)
    assert says in caught.value.reason


def test_other_transaction_sets_are_reported_and_skipped_and_several_interchanges_read():
    data = interchange(["AK1*OW*1"], set_id="997") + "\r\n" + interchange(ADVICE, isa13=8)
    shipments, errors = collect(fmt().read_shipments, data.encode())
    assert shipments == EXPECTED
    assert errors == [(3, "transaction set '997' is not a 945; it is skipped")]


class _Generated846(io.RawIOBase):
    """An 846 with ``items`` LIN/QTY pairs, produced as it is read."""

    def __init__(self, items: int) -> None:
        head = interchange(["BIA*00*MM*INV1*20240501"], set_id="846")
        head = head[: head.index("SE*")]
        body = (f"LIN**SK*SKU-{n:07d}~QTY*33*{n % 50}~".encode() for n in range(items))
        tail = f"CTT*{items}~SE*{2 * items + 4}*0001~GE*1*11~IEA*1*000000007~".encode()
        self._parts = itertools.chain([head.encode()], body, [tail])
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self._pending) < len(buffer):
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


@pytest.mark.slow
def test_a_200k_segment_846_is_read_without_holding_it():
    # 100k items = 200k segments (~4.5 MB); the 1,000,000-line figure is in bench/formats.py.
    stream = io.BufferedReader(_Generated846(100_000))
    tracemalloc.start()
    try:
        count = sum(1 for _ in fmt().read_inventory(stream, file_name="inv.edi"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    assert peak < 3 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"

"""X12 documents in: 945 Warehouse Shipping Advice -> Shipments, 846 Inventory -> levels.

Envelope problems (counts, control numbers, nesting, truncation) fail the whole file; a bad
detail (quantity, date, missing SKU) is one FileFormatError, reported through ``on_error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from dropstream.errors import FileFormatError
from dropstream.formats import _csv
from dropstream.formats._csv import RowProblem, parse_count, report
from dropstream.formats.base import OnError
from dropstream.formats.x12.envelope import Envelope, Segment, read_segments
from dropstream.formats.x12.options import X12Options
from dropstream.models import InventoryLevel, Shipment, ShipmentLine

__all__ = ["read_846", "read_945"]


def _sets(stream: BinaryIO, file_name: str, options: X12Options, set_id: str,
          on_error: OnError | None) -> Iterator[Segment]:  # fmt: skip
    """Segments of the ``set_id`` transaction sets, ST and SE included, envelope-checked."""
    envelope, wanted, last = Envelope(file_name), False, 0
    for segment in read_segments(stream, file_name, _csv.text_encoding(options.encoding)):
        envelope.check(segment)
        last = segment.index
        if segment.id == "ST":
            wanted = segment.get(1) == set_id
            if not wanted:
                reason = f"transaction set {segment.get(1)!r} is not a {set_id}; it is skipped"
                report(FileFormatError(file_name, segment.index, reason), on_error)
        if wanted:
            yield segment
        if segment.id == "SE":
            wanted = False
    envelope.finish(last)


def _time(date: str, time: str, what: str) -> datetime:
    """CCYYMMDD and an optional HHMM[SS[DD]] as aware UTC (X12 times carry no zone)."""
    try:
        day = datetime.strptime(date, "%Y%m%d")
        clock = (time + "000000")[:6] if time else "000000"
        return day.replace(hour=int(clock[:2]), minute=int(clock[2:4]), second=int(clock[4:6]),
                           tzinfo=UTC)  # fmt: skip
    except ValueError:
        raise RowProblem(f"{what} {date!r} is not a CCYYMMDD date (with HHMM time)") from None


def _product_id(segment: Segment, pairs: range | list[int], qualifiers: tuple[str, ...]) -> str:
    """The product id under the most preferred qualifier among the ``pairs`` positions."""
    elements, found = segment.elements, dict[str, str]()
    for at in pairs:
        if at + 1 >= len(elements):
            break
        if value := elements[at + 1].strip():
            found.setdefault(elements[at].strip(), value)
    return next((found[q] for q in qualifiers if q in found), "")


@dataclass(slots=True)
class _Advice:
    """One 945 transaction set while it is read: packages by tracking number."""

    order_number: str = ""
    shipped_at: datetime | None = None
    carrier: str = ""
    service: str = ""
    broken: bool = False
    tracking: str = ""
    packages: dict[str, list[ShipmentLine]] = field(default_factory=dict)
    poisoned: set[str] = field(default_factory=set)


def read_945(stream: BinaryIO, *, options: X12Options, file_name: str,
             on_error: OnError | None) -> Iterator[Shipment]:  # fmt: skip
    """One Shipment per tracking number (MAN) in each 945, yielded once its SE checks out."""
    advice = _Advice()
    for segment in _sets(stream, file_name, options, "945", on_error):
        sid = segment.id
        if sid == "ST":
            advice = _Advice()
        elif sid == "SE":
            yield from _shipments(advice, segment, file_name, on_error)
            continue
        try:
            _read_945_segment(advice, segment, options)
        except RowProblem as problem:
            if sid in ("W12", "MAN") and advice.tracking:
                advice.poisoned.add(advice.tracking)
                reason = f"{problem.reason}; package {advice.tracking} is skipped"
            else:
                advice.broken = True
                reason = f"{problem.reason}; the whole 945 is skipped"
            report(FileFormatError(file_name, segment.index, f"{sid}: {reason}"), on_error)


def _read_945_segment(advice: _Advice, segment: Segment, options: X12Options) -> None:
    sid = segment.id
    if sid == "W06":
        advice.order_number = segment.get(2)
        if not advice.order_number:
            raise RowProblem("depositor order number (W06-02) is missing")
        advice.shipped_at = _time(segment.get(3), "", "ship date (W06-03)")
    elif sid == "G62" and segment.get(1) == "11":  # shipped on this date
        advice.shipped_at = _time(segment.get(2), segment.get(4), "ship date (G62)")
    elif sid == "W27":
        advice.carrier = segment.get(2) or segment.get(3)
        advice.service = segment.get(3) if segment.get(2) else ""
    elif sid == "LX":
        advice.tracking = ""
    elif sid == "MAN" and segment.get(1) in options.tracking_qualifiers:
        advice.tracking = segment.get(2)
        if not advice.tracking:
            raise RowProblem("MAN has a tracking qualifier but no tracking number")
        advice.packages.setdefault(advice.tracking, [])
    elif sid == "W12":
        if not advice.tracking:
            qualifiers = "/".join(options.tracking_qualifiers)
            raise RowProblem(f"W12 before any MAN {qualifiers} tracking number in its LX loop")
        sku = _product_id(segment, [7, 17], options.sku_qualifiers)
        if not sku:
            raise RowProblem(f"no SKU under qualifiers {'/'.join(options.sku_qualifiers)}")
        shipped = parse_count(segment.get(3), "quantity shipped (W12-03)")
        if shipped:
            advice.packages[advice.tracking].append(ShipmentLine(sku, shipped))


def _shipments(advice: _Advice, se: Segment, file_name: str,
               on_error: OnError | None) -> Iterator[Shipment]:  # fmt: skip
    if advice.broken:
        return
    missing = [what for what, value in (("W06 order number", advice.order_number),
               ("W27 carrier", advice.carrier)) if not value]  # fmt: skip
    if missing or not advice.packages:
        reason = f"945 lacks {', '.join(missing) or 'MAN tracking numbers'}; it is skipped"
        report(FileFormatError(file_name, se.index, reason), on_error)
        return
    for tracking, lines in advice.packages.items():
        if tracking not in advice.poisoned and lines:
            yield Shipment(advice.order_number, tracking, advice.carrier, tuple(lines),
                           service=advice.service, shipped_at=advice.shipped_at)  # fmt: skip


@dataclass(slots=True)
class _Item:
    segment: Segment
    sku: str
    quantity: str | None = None
    as_of: datetime | None = None


def read_846(stream: BinaryIO, *, options: X12Options, file_name: str,
             on_error: OnError | None) -> Iterator[InventoryLevel]:  # fmt: skip
    """One InventoryLevel per LIN, with its QTY of ``quantity_qualifier``; streamed."""
    seen = _csv.KeySet()
    as_of: datetime | None = None
    item: _Item | None = None
    items = 0
    for segment in _sets(stream, file_name, options, "846", on_error):
        sid = segment.id
        if sid in ("LIN", "CTT", "SE") and item is not None:
            pending, item, level = item, None, None
            try:
                level = _level(pending, as_of, seen, options)
            except RowProblem as problem:
                error = FileFormatError(file_name, pending.segment.index, f"LIN: {problem.reason}")
                report(error, on_error)
            if level is not None:
                yield level
        try:
            if sid == "ST":
                as_of, items = None, 0
            elif sid == "BIA":
                as_of = _time(segment.get(4), segment.get(5), "report date (BIA-04)")
            elif sid == "DTM":
                when = _time(segment.get(2), segment.get(3), "date (DTM-02)")
                if item is None:
                    as_of = when
                else:
                    item.as_of = when
            elif sid == "LIN":
                items += 1
                ids = range(2, 31, 2)
                item = _Item(segment, _product_id(segment, ids, options.sku_qualifiers))
            elif sid == "QTY" and item is not None and segment.get(1) == options.quantity_qualifier:
                item.quantity = segment.get(2)
            elif sid == "CTT" and segment.get(1) and segment.get(1) != str(items):
                raise RowProblem(f"CTT-01 says {segment.get(1)} LIN items, counted {items}")
        except RowProblem as problem:
            report(FileFormatError(file_name, segment.index, f"{sid}: {problem.reason}"), on_error)


def _level(item: _Item, as_of: datetime | None, seen: _csv.KeySet,
           options: X12Options) -> InventoryLevel:  # fmt: skip
    if not item.sku:
        raise RowProblem(f"no SKU under qualifiers {'/'.join(options.sku_qualifiers)}")
    if item.quantity is None:
        raise RowProblem(f"SKU {item.sku!r} has no QTY with qualifier {options.quantity_qualifier}")
    available = parse_count(item.quantity, "quantity available")
    if not seen.add(item.sku):
        raise RowProblem(f"SKU {item.sku!r} already appeared; the first LIN counts")
    return InventoryLevel(item.sku, available, item.as_of or as_of, options.facility)

"""X12 940 Warehouse Shipping Orders out: one ST per order inside one ISA/GS envelope."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import BinaryIO

from dropstream.errors import ConfigurationError, FileFormatError
from dropstream.formats.x12.envelope import ISA_LENGTH
from dropstream.formats.x12.options import X12Options
from dropstream.models import Address, Order

__all__ = ["NextControlNumber", "write_940"]

#: Returns the next persistent counter value for a name (``interchange`` or ``group``).
NextControlNumber = Callable[[str], int]
_NTE_WIDTH = 80


class _Segments:
    """Segments of one document; each value is cleaned of separators (or rejected)."""

    def __init__(self, options: X12Options, order: str) -> None:
        self.options, self.order = options, order
        self.seps = options.separators
        self.lines: list[str] = []

    def add(self, *elements: str | int | Decimal) -> None:
        values = [self._value(str(element)) for element in elements]
        while values and not values[-1]:
            values.pop()  # X12 drops trailing empty elements
        self.lines.append(self.seps.element.join(values) + self.seps.segment)

    def _value(self, value: str) -> str:
        if self.options.separators_in_data == "reject" and (bad := self.seps.carried(value)):
            raise ValueError(f"{value!r} holds {bad!r}, an X12 separator (set "
                             "separators_in_data='clean' to replace them with spaces)")  # fmt: skip
        return self.seps.clean(value)


def control(value: int, name: str) -> int:
    """A control number from the counter, kept to 1..999999999 as ISA13 allows."""
    if type(value) is not int or value < 1:
        raise ConfigurationError(f"x12 control number counter {name!r} gave {value!r}, not >= 1")
    return (value - 1) % 999_999_999 + 1


def write_940(
    orders: Iterable[Order],
    stream: BinaryIO,
    *,
    options: X12Options,
    purpose: str,
    next_control_number: NextControlNumber,
    now: datetime,
    file_name: str,
) -> int:
    """Write ``orders`` as 940s (W05 ``purpose``: N original, F cancel); return how many."""
    batch = list(orders)
    bodies, problems = [], []
    for order in batch:
        try:
            bodies.append(_order_body(order, options, purpose))
        except ValueError as exc:
            problems.append(f"order {order.number}: {exc}")
    if problems:
        reason = "; ".join(problems) + ". Nothing was written: fix or hold these orders."
        raise FileFormatError(file_name, None, reason)
    seps, out = options.separators, []
    isa13 = control(next_control_number("interchange"), "interchange")
    gs06 = control(next_control_number("group"), "group")
    now = now.astimezone(UTC)
    isa = seps.element.join([
        "ISA", "00", " " * 10, "00", " " * 10,
        options.sender_qualifier.ljust(2), options.sender_id.ljust(15),
        options.receiver_qualifier.ljust(2), options.receiver_id.ljust(15),
        f"{now:%y%m%d}", f"{now:%H%M}", "U", "00401", f"{isa13:09d}",
        "1" if options.acknowledgment_requested else "0", options.usage_indicator,
        seps.sub_element,
    ]) + seps.segment  # fmt: skip
    assert len(isa) == ISA_LENGTH, isa  # option validation keeps every field to its width
    out.append(isa)
    envelope = _Segments(options, "")
    envelope.add("GS", "OW", options.gs_sender_id, options.gs_receiver_id, f"{now:%Y%m%d}",
                 f"{now:%H%M}", gs06, "X", "004010")  # fmt: skip
    for number, body in enumerate(bodies, start=1):
        st02 = f"{number:04d}"
        envelope.add("ST", "940", st02)
        envelope.lines += body
        envelope.add("SE", len(body) + 2, st02)
    envelope.add("GE", len(bodies), gs06)
    envelope.add("IEA", 1, f"{isa13:09d}")
    out += envelope.lines
    stream.write(options.line_break.join(out).encode(options.encoding) + b"\n"
                 if options.line_break else "".join(out).encode(options.encoding))  # fmt: skip
    return len(batch)


def _order_body(order: Order, options: X12Options, purpose: str) -> list[str]:
    """The segments between ST and SE for one order; ValueError says what is wrong."""
    if not order.number.strip():
        raise ValueError("no order number")
    if not order.lines:
        raise ValueError("no lines")
    if not order.ship_method.strip():
        raise ValueError("no ship method (map the store's shipping to a warehouse ship method)")
    doc = _Segments(options, order.number)
    doc.add("W05", purpose, order.number)
    _party(doc, "ST", order.ship_to, order.email)
    if order.bill_to is not None:
        _party(doc, "BT", order.bill_to, "")
    doc.add("N9", "CO", order.number)
    doc.add("G62", "04", f"{order.created_at.astimezone(UTC):%Y%m%d}")
    notes = doc.seps.clean(order.notes) if order.notes else ""
    for start in range(0, len(notes), _NTE_WIDTH):
        doc.add("NTE", "WHI", notes[start : start + _NTE_WIDTH])
    doc.add("W66", options.payment_method, options.transport_method, "", "", order.ship_method)
    total = 0
    for line in order.lines:
        if not line.sku.strip():
            raise ValueError(f"line {line.line_number}: no SKU")
        if type(line.quantity) is not int or line.quantity < 1:
            raise ValueError(f"line {line.line_number}: quantity {line.quantity!r} must be >= 1")
        total += line.quantity
        doc.add("LX", line.line_number)
        doc.add("W01", line.quantity, "EA", "", "VN", line.sku, "SK", line.sku)
        doc.add("G69", line.sku)
        doc.add("N9", "LI", line.line_id)
    doc.add("W76", total)
    return doc.lines


def _party(doc: _Segments, code: str, address: Address, email: str) -> None:
    doc.add("N1", code, address.name)
    if address.company:
        doc.add("N2", address.company)
    doc.add("N3", address.address1, address.address2)
    doc.add("N4", address.city, address.state, address.postal_code, address.country)
    if address.phone or email:
        phone = ("TE", address.phone) if address.phone else ()
        mail = ("EM", email) if email else ()
        doc.add("PER", "IC", address.name, *phone, *mail)

"""Shipment files read as packages: consecutive rows sharing order number and tracking number.

Shared by the CSV formats. A package with any bad row is held back whole (reported through
``on_error``): pushing part of it would record a fulfillment the exactly-once key then blocks
from ever being completed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dropstream.errors import FileFormatError
from dropstream.formats._csv import Row, RowProblem, parse_count, report
from dropstream.formats.base import OnError
from dropstream.models import Shipment, ShipmentLine

ParseTime = Callable[[str, str], datetime]


@dataclass(slots=True)
class Package:
    """Consecutive shipment rows with one order number and tracking number."""

    key: tuple[str, str]
    reopened: bool = False
    poisoned: bool = False
    first: dict[str, Any] = field(default_factory=dict)
    lines: list[ShipmentLine] = field(default_factory=list)

    def add(self, attributes: dict[str, Any], line: ShipmentLine) -> None:
        if not self.first:
            self.first = attributes
        for name, value in attributes.items():
            if value != self.first[name]:
                raise RowProblem(
                    f"{name.replace('_', ' ')} {value!s} differs from the package's first row "
                    f"({self.first[name]!s})"
                )
        self.lines.append(line)

    def shipment(self) -> Shipment | None:
        if self.poisoned or not self.lines:
            return None
        order_number, tracking = self.key
        return Shipment(order_number, tracking, lines=tuple(self.lines), **self.first)


def add_row(row: Row, package: Package, parse_time: ParseTime) -> None:
    """Add one shipment row to its package; RowProblem when the row is unusable."""
    if package.reopened:
        raise RowProblem("rows of one package (order + tracking number) must be consecutive")
    for column in ("order_number", "tracking_number", "sku", "carrier"):
        if not row.get(column):
            raise RowProblem(f"{column.replace('_', ' ')} is missing")
    number = row.get("line_number")
    line = ShipmentLine(
        sku=row.get("sku"),
        quantity=parse_count(row.get("quantity_shipped"), "quantity shipped", minimum=1),
        line_number=parse_count(number, "line number", minimum=1) if number else None,
    )
    attributes = {
        "carrier": row.get("carrier"),
        "service": row.get("service"),
        "shipped_at": parse_time(row.get("ship_date"), "ship date"),
        "tracking_url": row.get("tracking_url"),
    }
    package.add(attributes, line)


def group_shipments(
    rows: Iterable[Row], file_name: str, on_error: OnError | None, parse_time: ParseTime
) -> Iterator[Shipment]:
    """One Shipment per run of consecutive rows sharing order number and tracking number."""
    package: Package | None = None
    closed: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.get("order_number"), row.get("tracking_number"))
        skipped = f"; package {key[1] or '?'} of order {key[0] or '?'} is skipped"
        if row.problem:
            # A broken row of the open package's order may belong to it: hold it back whole.
            if package is not None and package.key[0] == key[0]:
                package.poisoned = True
            else:
                skipped = ""
            report(FileFormatError(file_name, row.line, row.problem + skipped), on_error)
            continue
        if package is None or key != package.key:
            if package is not None:
                closed.add(package.key)
                if shipment := package.shipment():
                    yield shipment
            package = Package(key, reopened=key in closed)
        try:
            add_row(row, package, parse_time)
        except RowProblem as problem:
            package.poisoned = True
            report(FileFormatError(file_name, row.line, problem.reason + skipped), on_error)
    if package is not None and (shipment := package.shipment()):
        yield shipment

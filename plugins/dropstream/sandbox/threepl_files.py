"""The simulated 3PL's side of the header/detail CSV layout (``docs/formats.md``).

It reads the order files DropStream publishes and writes shipment confirmations and inventory
snapshots the way a warehouse does. Written from the documented layout, not with DropStream's own
reader and writer, so the demo exercises the real format code the way a 3PL's files would.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SUPPORTED_FORMATS = ("header_detail_csv",)
SHIPMENT_COLUMNS = (
    "order_number",
    "line_number",
    "sku",
    "quantity_shipped",
    "carrier",
    "service",
    "tracking_number",
    "ship_date",
    "tracking_url",
)


@dataclass(frozen=True)
class OrderLine:
    order_number: str
    line_number: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class Package:
    order_number: str
    tracking_number: str
    carrier: str
    service: str
    lines: tuple[OrderLine, ...]  # quantity = units of the line in this package


def read_order_lines(data: bytes) -> dict[str, list[OrderLine]]:
    """The PD rows of one order file, by client order number (PH rows carry no lines)."""
    orders: dict[str, list[OrderLine]] = {}
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        if row and row[0] == "PD":
            line = OrderLine(row[1], int(row[2]), row[3], int(row[4]))
            orders.setdefault(line.order_number, []).append(line)
        elif row and row[0] == "PH":
            orders.setdefault(row[1], [])
    return orders


def shipment_file(packages: Iterable[Package], shipped_at: datetime) -> bytes:
    """A ``shp_*.csv`` file: one row per line of each package, a package's rows together."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SHIPMENT_COLUMNS)
    stamp = shipped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    for package in packages:
        for line in package.lines:
            writer.writerow(
                (
                    package.order_number,
                    line.line_number,
                    line.sku,
                    line.quantity,
                    package.carrier,
                    package.service,
                    package.tracking_number,
                    stamp,
                    f"https://tracking.example/{package.carrier}/{package.tracking_number}",
                )
            )
    return out.getvalue().encode()


def inventory_file(available: dict[str, int], as_of: datetime, facility: str) -> bytes:
    """An ``inv_*.csv`` snapshot of every SKU the warehouse stocks."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("sku", "quantity_available", "facility", "as_of"))
    stamp = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    for sku in sorted(available):
        writer.writerow((sku, max(0, available[sku]), facility, stamp))
    return out.getvalue().encode()


def split_in_two(lines: list[OrderLine]) -> tuple[list[OrderLine], list[OrderLine]]:
    """Two packages' worth of an order's lines (a split shipment), both non-empty if possible."""
    if len(lines) > 1:
        half = len(lines) // 2
        return lines[:half], lines[half:]
    (line,) = lines
    if line.quantity > 1:
        first = line.quantity // 2
        return (
            [OrderLine(line.order_number, line.line_number, line.sku, first)],
            [OrderLine(line.order_number, line.line_number, line.sku, line.quantity - first)],
        )
    return lines, []

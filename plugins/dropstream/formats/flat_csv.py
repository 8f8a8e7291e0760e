"""Flat CSV: one row per order line with the order's fields repeated; columns mapped per connection.

Every option, field and default is listed in ``docs/formats.md``; keep the two in step.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, BinaryIO, ClassVar

from dropstream.errors import FileFormatError
from dropstream.formats import _csv
from dropstream.formats._csv import RowProblem, parse_count, report
from dropstream.formats._flat_options import (
    INVENTORY_REQUIRED,
    ORDER_FIELDS,
    SHIPMENT_REQUIRED,
    FlatCSVOptions,
    parse_options,
)
from dropstream.formats._packages import group_shipments
from dropstream.formats.base import FileFormat, OnError
from dropstream.models import InventoryLevel, Order, OrderLine, Shipment

__all__ = ["FlatCSV"]

# Shopper-typed text is neutralised; identifiers the warehouse must match exactly are not.
_FREE_TEXT = frozenset(
    ("email", "notes")
    + tuple(
        f"{side}_{part}"
        for side in ("ship", "bill")
        for part in ("name", "company", "address_1", "address_2", "city", "state", "zip",
                     "country", "phone")
    )
)  # fmt: skip
_QUOTING: dict[str, Any] = {
    "minimal": csv.QUOTE_MINIMAL,
    "all": csv.QUOTE_ALL,
    "nonnumeric": csv.QUOTE_NONNUMERIC,
}
# Letters cp1252 lacks that do not decompose to an ASCII base under NFKD.
_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i"})


class FlatCSV(FileFormat):
    """Orders as one CSV row per line; shipments and inventory as CSV with mapped header names."""

    name: ClassVar[str] = "flat_csv"

    def __init__(self, **options: Any) -> None:
        self.options: FlatCSVOptions = parse_options(options)
        opts = self.options
        # Per connection: these shadow FileFormat's class-level defaults.
        self.shipment_pattern = opts.shipment_pattern  # type: ignore[misc]
        self.inventory_pattern = opts.inventory_pattern  # type: ignore[misc]
        self.encoding = _csv.text_encoding(opts.encoding)
        self._codec = codecs.lookup(opts.encoding).name  # for writing: exactly what was asked
        self._dialect: dict[str, Any] = {"delimiter": opts.delimiter, "quotechar": opts.quotechar}

    def order_file_name(self, batch: str, stamp: datetime) -> str:
        if not batch or not _csv_safe_batch(batch):
            raise FileFormatError(f"ord_{batch}", None, "batch may only hold letters, digits, - _")
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return self.options.order_file_pattern.format(batch=batch, stamp=stamp)

    def cancel_file_name(self, batch: str, stamp: datetime) -> str:
        if not batch or not _csv_safe_batch(batch):
            raise FileFormatError(f"cxl_{batch}", None, "batch may only hold letters, digits, - _")
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return self.options.cancel_file_pattern.format(batch=batch, stamp=stamp)

    def write_cancellations(
        self, orders: Iterable[Order], stream: BinaryIO, *, file_name: str = "<cancel file>"
    ) -> int:
        """An ``order_number`` header and one row per cancelled order, in this connection's
        delimiter, quoting, encoding and line ending."""
        return _csv.write_cancel_rows(
            orders, stream, file_name=file_name, codec=self._codec,
            line_ending=self.options.line_ending,
            dialect={**self._dialect, "quoting": _QUOTING[self.options.quoting]},
        )  # fmt: skip

    # --- writing orders ------------------------------------------------------------------

    def write_orders(
        self, orders: Iterable[Order], stream: BinaryIO, *, file_name: str = "<order file>"
    ) -> int:
        """Write one row per order line; every order is checked (and encoded) before writing."""
        batch = list(orders)
        rows: list[list[Any]] = []
        problems, seen = [], set()
        for order in batch:
            found = self.order_problems(order)
            if order.number in seen:
                found.append("appears twice")
            seen.add(order.number)
            if not found:
                try:
                    rows.extend(self._encodable(self._row(order, line)) for line in order.lines)
                except RowProblem as problem:
                    found.append(problem.reason)
            if found:
                problems.append(f"order {order.number}: {', '.join(found)}")
        if problems:
            reason = "; ".join(problems) + ". Nothing was written: fix or hold these orders."
            raise FileFormatError(file_name, None, reason)
        opts = self.options
        text = io.TextIOWrapper(stream, encoding=self._codec,
                                errors="strict", newline="")  # fmt: skip
        try:
            writer = csv.writer(
                text, lineterminator=opts.line_ending, quoting=_QUOTING[opts.quoting],
                **self._dialect,
            )  # fmt: skip
            if opts.header_row:
                writer.writerow([column.header for column in opts.columns])
            writer.writerows(rows)
        finally:
            text.detach()  # flushes; leaves the caller's stream open
        return len(batch)

    def order_problems(self, order: Order) -> list[str]:
        """Why ``order`` cannot go into this connection's order file (empty when it can)."""
        problems = []
        if not order.lines:
            problems.append("no lines")
        for line in order.lines:
            where = f"line {line.line_number}"
            if type(line.quantity) is not int or line.quantity < 1:
                problems.append(
                    f"{where}: quantity {line.quantity!r} must be a whole number from 1"
                )
            price = line.unit_price
            if not isinstance(price, Decimal | int) or not Decimal(price).is_finite():
                problems.append(f"{where}: unit price {price!r} must be a finite Decimal")
        for field in self.options.required:
            lines = order.lines[:1] if field in _ORDER_LEVEL else order.lines
            for line in lines:
                if not str(ORDER_FIELDS[field](order, line, self.options.date_format)).strip():
                    where = "" if field in _ORDER_LEVEL else f"line {line.line_number}: "
                    problems.append(f"{where}required field {field!r} is empty")
        return problems

    def _row(self, order: Order, line: OrderLine) -> list[Any]:
        opts = self.options
        cells = []
        for column in opts.columns:
            value = ORDER_FIELDS[column.field](order, line, opts.date_format)
            if isinstance(value, str) and opts.neutralize_formulas and column.field in _FREE_TEXT:
                value = _csv.neutralize(value, phone=column.field.endswith("_phone"))
            cells.append(value)
        return cells

    def _encodable(self, cells: list[Any]) -> list[Any]:
        """``cells`` with text the file's encoding can hold; RowProblem or transliterated."""
        codec = self._codec
        result = []
        for cell in cells:
            if isinstance(cell, str):
                try:
                    cell.encode(codec)
                except UnicodeEncodeError as exc:
                    bad = exc.object[exc.start : exc.end]
                    if self.options.errors != "replace" or _has_surrogate(bad):
                        raise RowProblem(
                            f"{bad!r} in {cell!r} cannot be written as {self.options.encoding} "
                            "(set the format option errors='replace' to transliterate)"
                        ) from None
                    cell = _transliterate(cell, codec)
            result.append(cell)
        return result

    # --- reading -------------------------------------------------------------------------

    def _rows(self, stream: BinaryIO, file_name: str, columns: Mapping[str, str | None],
              required: tuple[str, ...]) -> Iterator[_csv.Row]:  # fmt: skip
        aliases = {name: header for name, header in columns.items() if header}
        optional = tuple(name for name in aliases if name not in required)
        return _csv.read_table(
            stream, file_name=file_name, encoding=self.encoding, required=required,
            optional=optional, dialect=self._dialect, aliases=aliases,
        )  # fmt: skip

    def read_shipments(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[Shipment]:
        """One Shipment per run of consecutive rows sharing order number and tracking number."""
        rows = self._rows(stream, file_name, self.options.shipment_columns, SHIPMENT_REQUIRED)
        return group_shipments(rows, file_name, on_error, self._parse_time)

    def read_inventory(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[InventoryLevel]:
        """One InventoryLevel per row; a SKU repeated for one facility keeps its first row."""
        rows = self._rows(stream, file_name, self.options.inventory_columns, INVENTORY_REQUIRED)
        seen = _csv.KeySet()
        default_facility = self.options.facility
        for row in rows:
            try:
                if row.problem:
                    raise RowProblem(row.problem)
                sku, facility = row.get("sku"), row.get("facility") or default_facility
                if not sku:
                    raise RowProblem("SKU is missing")
                if not seen.add(f"{facility}\x1f{sku}"):
                    where = f" at facility {facility!r}" if facility else ""
                    raise RowProblem(f"SKU {sku!r}{where} already appeared; the first row counts")
                available = parse_count(row.get("quantity_available"), "quantity available")
                as_of = self._parse_time(row.get("as_of"), "as-of time")
            except RowProblem as problem:
                report(FileFormatError(file_name, row.line, problem.reason), on_error)
                continue
            yield InventoryLevel(sku=sku, available=available, as_of=as_of, facility=facility)

    def _parse_time(self, text: str, what: str) -> datetime:
        """ISO 8601, or else the connection's ``date_format``; aware UTC either way."""
        try:
            return _csv.parse_time(text, what)
        except RowProblem:
            try:
                value = datetime.strptime(text, self.options.date_format)
            except ValueError:
                raise RowProblem(
                    f"{what} {text!r} is neither an ISO date or date-time nor in the "
                    f"date_format {self.options.date_format!r}"
                ) from None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_ORDER_LEVEL = frozenset(
    name for name in ORDER_FIELDS if name not in ("line_number", "line_id", "sku", "qty", "price")
)


def _csv_safe_batch(batch: str) -> bool:
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in batch)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _transliterate(text: str, codec: str) -> str:
    """Characters ``codec`` lacks become their closest plain letters ('ł' -> 'l'), else '?'."""
    out = []
    for ch in text:
        try:
            ch.encode(codec)
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", ch.translate(_FOLD))
            if not unicodedata.combining(c)
        )  # fmt: skip
        try:
            folded.encode(codec)
            out.append(folded or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)

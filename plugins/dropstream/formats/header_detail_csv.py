"""Header/detail CSV: ``PH``/``PD`` order rows out; shipment and inventory files in.

Every column, per version, is listed in ``docs/formats.md``; keep the two in step.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, BinaryIO, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from dropstream.errors import FileFormatError
from dropstream.formats import _csv
from dropstream.formats._csv import RowProblem, parse_count, parse_time, report
from dropstream.formats._options import validate_options
from dropstream.formats._packages import group_shipments
from dropstream.formats.base import (
    DEFAULT_CANCEL_FILE_PATTERN,
    FileFormat,
    OnError,
    check_order_file_pattern,
)
from dropstream.models import Address, InventoryLevel, Order, Shipment

__all__ = ["HeaderDetailCSV", "order_problems"]

VERSIONS = ("v1", "v2", "v3")
_ADDRESS = ("name", "address1", "address2", "city", "state", "postal_code", "country")
_PH_V1 = (
    "record_type", "client_order_number", "customer_po",
    *(f"ship_to_{part}" for part in _ADDRESS), "ship_to_attention", "ship_to_phone",
    *(f"bill_to_{part}" for part in _ADDRESS),
    "ship_method", "ship_payment_type", "order_date", "channel_code",
)  # fmt: skip
_PH_V2 = (*_PH_V1[:3], "customer_email", *_PH_V1[3:21], "notes", *_PH_V1[21:])
#: PH columns per version, in file order.
PH_COLUMNS: dict[str, tuple[str, ...]] = {
    "v1": _PH_V1,
    "v2": _PH_V2,
    "v3": (*_PH_V2, "facility_id"),
}
PD_COLUMNS = ("record_type", "client_order_number", "line_number", "sku", "quantity", "unit_price")
# Shopper-typed text is neutralised; identifiers the warehouse must match exactly are not.
_FREE_TEXT = frozenset(
    ("customer_po", "customer_email", "notes", "ship_to_attention", "ship_to_phone")
    + tuple(f"{side}_{part}" for side in ("ship_to", "bill_to") for part in _ADDRESS)
)
SHIPMENT_REQUIRED = (
    "order_number", "sku", "quantity_shipped", "carrier", "tracking_number", "ship_date",
)  # fmt: skip
SHIPMENT_OPTIONAL = ("line_number", "service", "tracking_url")
INVENTORY_REQUIRED = ("sku", "quantity_available", "as_of")
INVENTORY_OPTIONAL = ("facility",)
_ORDER_NUMBER = re.compile(r"[A-Za-z0-9_-]+")
_UNWRITABLE = re.compile("[\ud800-\udfff]")


def order_problems(order: Order) -> list[str]:
    """Why ``order`` cannot go into an order file (empty when it can)."""
    problems = []
    if not _ORDER_NUMBER.fullmatch(order.number):
        problems.append("client order number may only hold letters, digits, '-' and '_'")
    if not order.ship_method.strip():
        problems.append("no ship method (map the store's shipping to a warehouse ship method)")
    if not order.lines:
        problems.append("no lines")
    numbers: set[int] = set()
    for line in order.lines:
        where = f"line {line.line_number}"
        if type(line.line_number) is not int or line.line_number < 1 or line.line_number in numbers:
            problems.append(f"{where}: line numbers must be unique whole numbers from 1")
        numbers.add(line.line_number)
        if not line.sku.strip():
            problems.append(f"{where}: no SKU")
        if type(line.quantity) is not int or line.quantity < 1:
            problems.append(f"{where}: quantity {line.quantity!r} must be a whole number from 1")
        if (
            not isinstance(line.unit_price, Decimal | int)
            or not Decimal(line.unit_price).is_finite()
        ):
            problems.append(f"{where}: unit price {line.unit_price!r} must be a finite Decimal")
    texts = [order.email, order.notes, order.channel, order.ship_method]
    for address in filter(None, (order.ship_to, order.bill_to)):
        texts += [getattr(address, part) for part in (*_ADDRESS, "phone", "company")]
    if any(_UNWRITABLE.search(text) for text in texts):
        problems.append("holds text that cannot be written as UTF-8 (lone surrogates)")
    return problems


class HeaderDetailOptions(BaseModel):
    """Validated header_detail_csv options; see docs/formats.md."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    version: Literal["v1", "v2", "v3"] = "v2"
    facility: str = ""
    encoding: str = "utf-8"
    neutralize_formulas: bool = True
    cancel_file_pattern: str = DEFAULT_CANCEL_FILE_PATTERN

    @field_validator("cancel_file_pattern")
    @classmethod
    def _cancel_file_pattern(cls, value: str) -> str:
        return check_order_file_pattern(value)

    @model_validator(mode="after")
    def _facility_for_v3(self) -> HeaderDetailOptions:
        if self.version == "v3" and not self.facility:
            raise ValueError("version v3 needs the option 'facility' (the warehouse's id)")
        _csv.text_encoding(self.encoding)  # ConfigurationError for an unknown codec
        return self


def parse_options(options: Mapping[str, Any]) -> HeaderDetailOptions:
    """Validate ``options``; any problem is a ConfigurationError naming the option."""
    return validate_options(HeaderDetailOptions, options, "header_detail_csv")


class HeaderDetailCSV(FileFormat):
    """Orders as PH/PD rows; shipments and inventory as CSV with a header row (by column name)."""

    name: ClassVar[str] = "header_detail_csv"
    shipment_pattern: ClassVar[str] = "shp_*.csv"
    inventory_pattern: ClassVar[str] = "inv_*.csv"

    def __init__(self, **options: Any) -> None:
        opts = parse_options(options)
        self.version = opts.version
        self.facility = opts.facility
        self.encoding = _csv.text_encoding(opts.encoding)
        self.neutralize_formulas = opts.neutralize_formulas
        self.cancel_file_pattern = opts.cancel_file_pattern

    def order_file_name(self, batch: str, stamp: datetime) -> str:
        if not _ORDER_NUMBER.fullmatch(batch):
            raise FileFormatError(f"ord_{batch}", None, "batch may only hold letters, digits, - _")
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return f"ord_{batch}_{stamp:%y%m%d%H%M%S}.csv"

    def cancel_file_name(self, batch: str, stamp: datetime) -> str:
        if not _ORDER_NUMBER.fullmatch(batch):
            raise FileFormatError(f"cxl_{batch}", None, "batch may only hold letters, digits, - _")
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return self.cancel_file_pattern.format(batch=batch, stamp=stamp)

    def write_cancellations(
        self, orders: Iterable[Order], stream: BinaryIO, *, file_name: str = "<cancel file>"
    ) -> int:
        """An ``order_number`` header and one row per cancelled order (UTF-8, CRLF)."""
        return _csv.write_cancel_rows(
            orders, stream, file_name=file_name, codec="utf-8", line_ending="\r\n"
        )

    def order_problems(self, order: Order) -> list[str]:
        return order_problems(order)

    def write_orders(
        self, orders: Iterable[Order], stream: BinaryIO, *, file_name: str = "<order file>"
    ) -> int:
        """Write PH/PD rows (UTF-8, CRLF, no header row); every order is checked first."""
        batch = list(orders)
        problems, seen = [], set()
        for order in batch:
            found = order_problems(order) + (["appears twice"] if order.number in seen else [])
            seen.add(order.number)
            if found:
                problems.append(f"order {order.number}: {', '.join(found)}")
        if problems:
            reason = "; ".join(problems) + ". Nothing was written: fix or hold these orders."
            raise FileFormatError(file_name, None, reason)
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        try:
            writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            for order in batch:
                writer.writerow(self._header_row(order))
                writer.writerows(
                    ("PD", order.number, line.line_number, line.sku, line.quantity,
                     format(Decimal(line.unit_price), "f"))
                    for line in order.lines
                )  # fmt: skip
        finally:
            text.detach()  # flushes; leaves the caller's stream open
        return len(batch)

    def _header_row(self, order: Order) -> list[str]:
        cells = {
            "record_type": "PH",
            "client_order_number": order.number,
            "customer_po": "",
            "customer_email": order.email,
            **_address_cells("ship_to", order.ship_to),
            "ship_to_attention": order.ship_to.company,
            "ship_to_phone": order.ship_to.phone,
            **_address_cells("bill_to", order.bill_to),
            "ship_method": order.ship_method,
            "ship_payment_type": "",
            "notes": order.notes,
            "order_date": f"{order.created_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
            "channel_code": order.channel,
            "facility_id": self.facility,
        }
        if self.neutralize_formulas:
            for name in _FREE_TEXT:
                cells[name] = _csv.neutralize(cells[name], phone=name == "ship_to_phone")
        return [cells[name] for name in PH_COLUMNS[self.version]]

    def read_shipments(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[Shipment]:
        """One Shipment per run of consecutive rows sharing order number and tracking number."""
        rows = _csv.read_table(
            stream, file_name=file_name, encoding=self.encoding,
            required=SHIPMENT_REQUIRED, optional=SHIPMENT_OPTIONAL,
        )  # fmt: skip
        return group_shipments(rows, file_name, on_error, parse_time)

    def read_inventory(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[InventoryLevel]:
        """One InventoryLevel per row; a SKU repeated for one facility keeps its first row."""
        rows = _csv.read_table(
            stream, file_name=file_name, encoding=self.encoding,
            required=INVENTORY_REQUIRED, optional=INVENTORY_OPTIONAL,
        )  # fmt: skip
        seen = _csv.KeySet()
        for row in rows:
            try:
                if row.problem:
                    raise RowProblem(row.problem)
                sku, facility = row.get("sku"), row.get("facility") or self.facility
                if not sku:
                    raise RowProblem("SKU is missing")
                if not seen.add(f"{facility}\x1f{sku}"):
                    where = f" at facility {facility!r}" if facility else ""
                    raise RowProblem(f"SKU {sku!r}{where} already appeared; the first row counts")
                available = parse_count(row.get("quantity_available"), "quantity available")
                as_of = parse_time(row.get("as_of"), "as-of time")
            except RowProblem as problem:
                report(FileFormatError(file_name, row.line, problem.reason), on_error)
                continue
            yield InventoryLevel(sku=sku, available=available, as_of=as_of, facility=facility)


def _address_cells(side: str, address: Address | None) -> dict[str, str]:
    """The seven address columns of one side; all empty when there is no such address."""
    return {f"{side}_{part}": getattr(address, part) if address else "" for part in _ADDRESS}

"""flat_csv's per-connection options and the order fields its columns can name (pydantic)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from dropstream.formats import _csv
from dropstream.formats._options import validate_options
from dropstream.formats.base import DEFAULT_CANCEL_FILE_PATTERN, check_order_file_pattern
from dropstream.models import Address, Order, OrderLine

__all__ = ["ORDER_FIELDS", "FlatCSVOptions", "parse_options"]

Value = str | int | Decimal
Getter = Callable[[Order, OrderLine, str], Value]


def _address(side: str, part: str) -> Getter:
    def get(order: Order, _line: OrderLine, _fmt: str) -> str:
        address: Address | None = order.ship_to if side == "ship" else order.bill_to
        return getattr(address, part) if address else ""

    return get


_PARTS = {
    "name": "name", "company": "company", "address_1": "address1", "address_2": "address2",
    "city": "city", "state": "state", "zip": "postal_code", "country": "country", "phone": "phone",
}  # fmt: skip
#: Every field a column can hold: (order, line, date_format) -> cell value.
ORDER_FIELDS: dict[str, Getter] = {
    "order_id": lambda o, _l, _f: o.number,
    "platform_order_id": lambda o, _l, _f: o.order_id,
    "order_date": lambda o, _l, f: o.created_at.astimezone(UTC).strftime(f),
    "email": lambda o, _l, _f: o.email,
    "shipping_method": lambda o, _l, _f: o.ship_method,
    "notes": lambda o, _l, _f: o.notes,
    "channel": lambda o, _l, _f: o.channel,
    "currency": lambda o, _l, _f: o.currency,
    **{f"{side}_{name}": _address(side, part) for side in ("ship", "bill")
       for name, part in _PARTS.items()},
    "line_number": lambda _o, line, _f: line.line_number,
    "line_id": lambda _o, line, _f: line.line_id,
    "sku": lambda _o, line, _f: line.sku,
    "qty": lambda _o, line, _f: line.quantity,
    # Decimal(format(..., "f")) prints plainly (12.50, never 1.25E+1) yet counts as a number.
    "price": lambda _o, line, _f: Decimal(format(Decimal(line.unit_price), "f")),
}  # fmt: skip
DEFAULT_COLUMNS = (
    "order_id", "ship_name", "ship_address_1", "ship_address_2", "ship_city", "ship_state",
    "ship_zip", "ship_country", "ship_phone", "email", "shipping_method", "sku", "qty", "price",
)  # fmt: skip
DEFAULT_REQUIRED = (
    "order_id", "ship_name", "ship_address_1", "ship_city", "ship_zip", "ship_country",
    "shipping_method", "sku",
)  # fmt: skip
SHIPMENT_COLUMNS = {
    "order_number": "order_id", "line_number": "line_number", "sku": "sku",
    "quantity_shipped": "qty", "carrier": "carrier", "service": "service",
    "tracking_number": "tracking_number", "ship_date": "ship_date", "tracking_url": "tracking_url",
}  # fmt: skip
SHIPMENT_REQUIRED = (
    "order_number", "sku", "quantity_shipped", "carrier", "tracking_number", "ship_date",
)  # fmt: skip
INVENTORY_COLUMNS = {"sku": "sku", "quantity_available": "qty", "as_of": "as_of",
                     "facility": "facility"}  # fmt: skip
INVENTORY_REQUIRED = ("sku", "quantity_available", "as_of")
_LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n", "\r\n": "\r\n", "\n": "\n"}


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    field: str
    header: str


class FlatCSVOptions(BaseModel):
    """Validated flat_csv options; see docs/formats.md for each one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[Column, ...] = tuple(Column(field=f, header=f) for f in DEFAULT_COLUMNS)
    delimiter: str = ","
    quotechar: str = '"'
    quoting: Literal["minimal", "all", "nonnumeric"] = "minimal"
    encoding: str = "utf-8"
    errors: Literal["strict", "replace"] = "strict"
    date_format: str = "%Y-%m-%dT%H:%M:%SZ"
    required: tuple[str, ...] = DEFAULT_REQUIRED
    header_row: bool = True
    neutralize_formulas: bool = True
    line_ending: str = "\r\n"
    facility: str = ""
    shipment_columns: dict[str, str | None] = SHIPMENT_COLUMNS  # type: ignore[assignment]
    inventory_columns: dict[str, str | None] = INVENTORY_COLUMNS  # type: ignore[assignment]
    order_file_pattern: str = "ord_{batch}_{stamp:%y%m%d%H%M%S}.csv"
    cancel_file_pattern: str = DEFAULT_CANCEL_FILE_PATTERN
    shipment_pattern: str = "shp_*.csv"
    inventory_pattern: str = "inv_*.csv"

    @field_validator("columns", mode="before")
    @classmethod
    def _columns(cls, value: Any) -> Any:
        if isinstance(value, Mapping):  # {field: header}, in order
            return [{"field": f, "header": h} for f, h in value.items()]
        if isinstance(value, list | tuple):
            return [{"field": v, "header": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("delimiter", "quotechar")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError("must be exactly one character, not a line break")
        return value

    @field_validator("line_ending")
    @classmethod
    def _line_ending(cls, value: str) -> str:
        if value.lower() not in _LINE_ENDINGS:
            raise ValueError("must be 'crlf' ('\\r\\n') or 'lf' ('\\n')")
        return _LINE_ENDINGS[value.lower()]

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError("must be a strftime format such as '%Y-%m-%d'")
        return value

    @field_validator("order_file_pattern", "cancel_file_pattern")
    @classmethod
    def _order_file_pattern(cls, value: str) -> str:
        return check_order_file_pattern(value)

    @model_validator(mode="after")
    def _consistent(self) -> FlatCSVOptions:
        fields = [c.field for c in self.columns]
        unknown = sorted(set(fields) - set(ORDER_FIELDS)) or sorted(
            set(self.required) - set(ORDER_FIELDS)
        )
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; known: {', '.join(ORDER_FIELDS)}"
            )
        if not fields or len(set(fields)) != len(fields):
            raise ValueError("columns must name each field at most once, and at least one")
        if missing := [f for f in self.required if f not in fields]:
            raise ValueError(f"required field(s) {', '.join(missing)} are not among the columns")
        if self.delimiter == self.quotechar:
            raise ValueError("delimiter and quotechar must differ")
        _csv.text_encoding(self.encoding)  # ConfigurationError for an unknown codec
        for kind, defaults, required in (
            ("shipment_columns", SHIPMENT_COLUMNS, SHIPMENT_REQUIRED),
            ("inventory_columns", INVENTORY_COLUMNS, INVENTORY_REQUIRED),
        ):
            merged = getattr(self, kind)
            if extra := sorted(set(merged) - set(defaults)):
                raise ValueError(f"{kind}: unknown field(s) {', '.join(extra)}")
            merged = {**defaults, **merged}
            if empty := [f for f in required if not (merged[f] or "").strip()]:
                raise ValueError(f"{kind}: required field(s) {', '.join(empty)} need a header")
            merged = {f: h for f, h in merged.items() if (h or "").strip()}
            keys = [_csv.column_key(h) for h in merged.values()]
            if len(set(keys)) != len(keys):
                raise ValueError(f"{kind}: two fields share one header name")
            object.__setattr__(self, kind, merged)
        return self


def parse_options(options: Mapping[str, Any]) -> FlatCSVOptions:
    """Validate ``options``; any problem is a ConfigurationError naming the option."""
    return validate_options(FlatCSVOptions, options, "flat_csv")

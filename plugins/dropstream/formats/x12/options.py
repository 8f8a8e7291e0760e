"""x12's per-connection options (pydantic): partner ids, separators, codes and file names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from dropstream.formats import _csv
from dropstream.formats._options import validate_options
from dropstream.formats.base import check_order_file_pattern
from dropstream.formats.x12.envelope import Separators

__all__ = ["X12Options", "parse_options"]

_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -._"


class X12Options(BaseModel):
    """Validated x12 options; see docs/formats.md for each one."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    sender_id: str
    receiver_id: str
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    gs_sender_id: str = ""
    gs_receiver_id: str = ""
    usage_indicator: Literal["P", "T"] = "P"
    acknowledgment_requested: bool = False
    element_separator: str = "*"
    sub_element_separator: str = ">"
    segment_terminator: str = "~"
    line_break: Literal["", "\n", "\r\n"] = ""
    separators_in_data: Literal["clean", "reject"] = "clean"
    encoding: str = "utf-8"
    payment_method: str = "PP"
    transport_method: str = "U"
    facility: str = ""
    quantity_qualifier: str = "33"
    sku_qualifiers: tuple[str, ...] = ("SK", "VN", "BP", "IN", "UP")
    tracking_qualifiers: tuple[str, ...] = ("CP",)
    order_file_pattern: str = "ord_{batch}_{stamp:%y%m%d%H%M%S}.edi"
    cancel_file_pattern: str = "cxl_{batch}_{stamp:%y%m%d%H%M%S}.edi"
    shipment_pattern: str = "shp_*.edi"
    inventory_pattern: str = "inv_*.edi"
    control_numbers: Callable[[str], int] | None = None

    @field_validator("sender_id", "receiver_id")
    @classmethod
    def _isa_id(cls, value: str) -> str:
        if not 1 <= len(value.strip()) <= 15 or set(value) - set(_ID_CHARS):
            raise ValueError("must be 1-15 letters, digits, spaces or - . _")
        return value.strip()

    @field_validator("sender_qualifier", "receiver_qualifier")
    @classmethod
    def _qualifier(cls, value: str) -> str:
        if len(value) != 2 or not value.isalnum():
            raise ValueError("must be a 2-character ISA id qualifier such as ZZ, 01, 12")
        return value

    @field_validator("element_separator", "sub_element_separator", "segment_terminator")
    @classmethod
    def _separator(cls, value: str) -> str:
        if len(value) != 1 or value.isalnum() or value == " ":
            raise ValueError("must be one character that is neither a letter, digit nor space")
        return value

    @field_validator("order_file_pattern", "cancel_file_pattern")
    @classmethod
    def _order_file_pattern(cls, value: str) -> str:
        return check_order_file_pattern(value)

    @model_validator(mode="after")
    def _consistent(self) -> X12Options:
        seps = (self.element_separator, self.sub_element_separator, self.segment_terminator)
        if len(set(seps)) != 3:
            raise ValueError("element, sub-element separator and segment terminator must differ")
        for name in ("gs_sender_id", "gs_receiver_id"):
            value = getattr(self, name) or getattr(self, name.removeprefix("gs_"))
            if set(value) - set(_ID_CHARS) or len(value) > 15:
                raise ValueError(f"{name} must be 1-15 letters, digits, spaces or - . _")
            object.__setattr__(self, name, value)
        _csv.text_encoding(self.encoding)  # ConfigurationError for an unknown codec
        return self

    @property
    def separators(self) -> Separators:
        return Separators(self.element_separator, self.sub_element_separator,
                          self.segment_terminator)  # fmt: skip


def parse_options(options: Mapping[str, Any]) -> X12Options:
    """Validate ``options``; any problem is a ConfigurationError naming the option."""
    return validate_options(
        X12Options, options, "x12", "is required: the id agreed with the warehouse for ISA/GS"
    )

"""EDI X12 004010 for warehouses: 940 orders out; 945 shipping advice and 846 inventory in.

Segments written and read, and every option, are listed in ``docs/formats.md``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar

from dropstream.errors import ConfigurationError, FileFormatError
from dropstream.formats.base import FileFormat, OnError
from dropstream.formats.x12.envelope import ISA_LENGTH, Separators
from dropstream.formats.x12.options import X12Options, parse_options
from dropstream.formats.x12.readers import read_846, read_945
from dropstream.formats.x12.writer import NextControlNumber, write_940
from dropstream.models import InventoryLevel, Order, Shipment

__all__ = ["ISA_LENGTH", "NextControlNumber", "Separators", "X12", "X12Options"]


class X12(FileFormat):
    """940 Warehouse Shipping Orders out (original or cancel); 945 and 846 in."""

    name: ClassVar[str] = "x12"
    #: Element maximums of the 940's ship-to loop: N102 name 60, N301/N302 address 55,
    #: N401 city 30, N403 postal code 15.
    address_limits: ClassVar[Mapping[str, int]] = {
        "name": 60,
        "address1": 55,
        "address2": 55,
        "city": 30,
        "postal_code": 15,
    }

    def __init__(self, **options: Any) -> None:
        self.options: X12Options = parse_options(options)
        self._run_now: datetime | None = None
        self._run_counter: NextControlNumber | None = None
        # Per connection: these shadow FileFormat's class-level defaults.
        self.shipment_pattern = self.options.shipment_pattern  # type: ignore[misc]
        self.inventory_pattern = self.options.inventory_pattern  # type: ignore[misc]

    def for_run(self, *, now: datetime, next_control_number: NextControlNumber) -> X12:
        bound = copy.copy(self)
        bound._run_now = now
        bound._run_counter = next_control_number
        return bound

    def order_file_name(self, batch: str, stamp: datetime) -> str:
        if not batch or not all(c.isascii() and (c.isalnum() or c in "-_") for c in batch):
            raise FileFormatError(f"ord_{batch}", None, "batch may only hold letters, digits, - _")
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return self.options.order_file_pattern.format(batch=batch, stamp=stamp)

    def cancel_file_name(self, batch: str, stamp: datetime) -> str:
        if not batch or not all(c.isascii() and (c.isalnum() or c in "-_") for c in batch):
            raise FileFormatError(f"cxl_{batch}", None, "batch may only hold letters, digits, - _")
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return self.options.cancel_file_pattern.format(batch=batch, stamp=stamp)

    def write_orders(
        self,
        orders: Iterable[Order],
        stream: BinaryIO,
        *,
        file_name: str = "<order file>",
        next_control_number: NextControlNumber | None = None,
        now: datetime | None = None,
    ) -> int:
        """Write one interchange of 940 originals (W05 N), one ST per order.

        ``next_control_number(name)`` returns the next persistent value of the counter
        ``interchange`` (ISA13/IEA02) or ``group`` (GS06/GE02); the flows pass
        ``lambda name: ledger.next_counter(connection, f"x12_{name}")``. Without it the
        ``control_numbers`` option is used. ``now`` stamps ISA09/10 and GS04/05 (default: clock).
        """
        return self._write(orders, stream, "N", file_name, next_control_number, now)

    def write_cancellations(
        self,
        orders: Iterable[Order],
        stream: BinaryIO,
        *,
        file_name: str = "<cancel file>",
        next_control_number: NextControlNumber | None = None,
        now: datetime | None = None,
    ) -> int:
        """Write 940 cancellations (W05 F) of orders sent before; otherwise as write_orders."""
        return self._write(orders, stream, "F", file_name, next_control_number, now)

    def _write(self, orders: Iterable[Order], stream: BinaryIO, purpose: str, file_name: str,
               counter: NextControlNumber | None, now: datetime | None) -> int:  # fmt: skip
        counter = counter or self.options.control_numbers or self._run_counter
        if counter is None:
            raise ConfigurationError(
                "x12 needs persistent control numbers: pass next_control_number= to write_orders "
                "or the format option control_numbers (e.g. lambda name: "
                "ledger.next_counter(connection, f'x12_{name}'))"
            )
        return write_940(
            orders, stream, options=self.options, purpose=purpose, next_control_number=counter,
            now=now or self._run_now or datetime.now(UTC), file_name=file_name,
        )  # fmt: skip

    def read_shipments(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[Shipment]:
        """Shipments in the 945s of an interchange: one per order and tracking number."""
        return read_945(stream, options=self.options, file_name=file_name, on_error=on_error)

    def read_inventory(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[InventoryLevel]:
        """Inventory levels in the 846s of an interchange: one per LIN item."""
        return read_846(stream, options=self.options, file_name=file_name, on_error=on_error)

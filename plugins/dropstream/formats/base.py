"""The file-format contract: orders out, shipments and inventory in, over binary streams."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import BinaryIO, ClassVar

from dropstream.errors import ConfigurationError, FileFormatError
from dropstream.models import InventoryLevel, Order, Shipment

#: Default name of a CSV cancel file (format option ``cancel_file_pattern``).
DEFAULT_CANCEL_FILE_PATTERN = "cxl_{batch}_{stamp:%y%m%d%H%M%S}.csv"

#: Called with each bad record; reading then carries on with the next one.
OnError = Callable[[FileFormatError], None]
#: Returns the next value of a persistent per-connection counter, by counter name.
NextNumber = Callable[[str], int]


def check_order_file_pattern(value: str) -> str:
    """Validate an order-file name pattern: ``{batch}`` and ``{stamp:<strftime>}``, no folders."""
    try:
        sample = value.format(batch="b", stamp=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"must use only {{batch}} and {{stamp:<strftime>}} ({exc})") from None
    if "{batch}" not in value or "{stamp" not in value or "/" in sample or "\\" in sample:
        raise ValueError("must hold {batch} and {stamp...} and no folder separators")
    return value


class FileFormat(ABC):
    """A warehouse file layout.

    Readers stream: they yield records one by one and never hold the whole file. A bad
    record raises ``FileFormatError`` (file, line, reason) unless ``on_error`` is given,
    in which case it is reported there and reading continues with the next record.
    """

    name: ClassVar[str] = ""
    #: Glob patterns of the files this format reads from the warehouse's outbound folder.
    shipment_pattern: ClassVar[str] = "*"
    inventory_pattern: ClassVar[str] = "*"
    #: Longest value the order file allows per ship-to field (``Address`` attribute names);
    #: ``rules.address_checks`` holds a longer one instead of letting it be cut short.
    address_limits: ClassVar[Mapping[str, int]] = {}

    @abstractmethod
    def order_file_name(self, batch: str, stamp: datetime) -> str:
        """Name of an order file for ``batch`` (letters, digits, '-', '_') written at ``stamp``."""

    @abstractmethod
    def write_orders(
        self, orders: Iterable[Order], stream: BinaryIO, *, file_name: str = "<order file>"
    ) -> int:
        """Write ``orders`` to ``stream``; return how many orders were written.

        Every order is checked before anything is written: one bad order raises
        ``FileFormatError`` naming it, and no half-written file is left behind.
        """

    def cancel_file_name(self, batch: str, stamp: datetime) -> str:
        """Name of a cancel file (orders sent before that the warehouse must not ship)."""
        raise ConfigurationError(f"the {self.name} format cannot tell a warehouse of cancellations")

    def write_cancellations(
        self, orders: Iterable[Order], stream: BinaryIO, *, file_name: str = "<cancel file>"
    ) -> int:
        """Write a cancel file for ``orders`` (as the warehouse saw them); return how many."""
        raise ConfigurationError(f"the {self.name} format cannot tell a warehouse of cancellations")

    def order_problems(self, order: Order) -> list[str]:
        """Why ``order`` cannot be written in this format (empty when it can).

        The orders flow holds such an order with these reasons instead of failing the file.
        """
        return []

    def for_run(self, *, now: datetime, next_control_number: NextNumber) -> FileFormat:
        """This format as one run uses it.

        Formats that stamp documents with a time or number them (X12 control numbers) take the
        run's clock reading and the connection's persistent counters from here; others ignore it.
        """
        return self

    @abstractmethod
    def read_shipments(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[Shipment]:
        """Shipments in a shipment confirmation file."""

    @abstractmethod
    def read_inventory(
        self, stream: BinaryIO, *, file_name: str = "<stream>", on_error: OnError | None = None
    ) -> Iterator[InventoryLevel]:
        """Inventory levels in an inventory snapshot file."""

"""The file-format contract: orders out, shipments and inventory in, over binary streams."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import BinaryIO, ClassVar

from dropstream.errors import FileFormatError
from dropstream.models import InventoryLevel, Order, Shipment

#: Called with each bad record; reading then carries on with the next one.
OnError = Callable[[FileFormatError], None]


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

    @abstractmethod
    def order_file_name(self, batch: str, stamp: datetime) -> str:
        """Name of an order file for ``batch`` (letters, digits, '-', '_') written at ``stamp``."""

    @abstractmethod
    def write_orders(self, orders: Iterable[Order], stream: BinaryIO) -> int:
        """Write ``orders`` to ``stream``; return how many orders were written."""

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

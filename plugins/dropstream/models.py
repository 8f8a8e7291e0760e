"""Domain values shared by adapters, formats, rules and flows.

Frozen dataclasses with slots; money is ``Decimal``; times are timezone-aware UTC.
Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as the warehouse needs it to ship."""

    name: str
    address1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2
    address2: str = ""
    state: str = ""
    phone: str = ""
    company: str = ""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of a store order."""

    line_id: str  # the platform's id for the line (needed to fulfil it later)
    sku: str
    quantity: int
    unit_price: Decimal
    line_number: int = 1
    #: False for lines the store says need no shipping (gift cards, digital goods): never sent.
    requires_shipping: bool = True
    #: For a component line made from a bundle (``rules.bundles``): the bundle's store SKU and
    #: the component units in one bundle. ``line_id`` stays the bundle line's, so a shipment of
    #: the components is pushed to the store against the bundle line.
    bundle_sku: str = ""
    per_bundle: int = 0


@dataclass(frozen=True, slots=True)
class Order:
    """A store order ready to be considered for the warehouse.

    ``order_id`` is the platform's stable id (e.g. a Shopify gid); ``number`` is what the
    merchant and the warehouse see (e.g. ``1001``) and is the client order number in files.
    """

    order_id: str
    number: str
    created_at: datetime
    updated_at: datetime
    ship_to: Address
    lines: tuple[OrderLine, ...]
    email: str = ""
    ship_method: str = ""
    currency: str = "USD"
    bill_to: Address | None = None
    notes: str = ""
    channel: str = ""
    financial_status: str = ""
    fulfillment_status: str = ""
    tags: tuple[str, ...] = ()  # the store's order tags, where the platform has them

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
        _require_aware("updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """An order the store reports cancelled: when, and why in the store's words.

    ``order`` is the order as the store shows it now, so an order cancelled before DropStream
    ever fetched it is still recorded (as cancelled: never sent).
    """

    order: Order
    cancelled_at: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        _require_aware("cancelled_at", self.cancelled_at)

    @property
    def order_id(self) -> str:
        return self.order.order_id


@dataclass(frozen=True, slots=True)
class InventoryLevel:
    """Available quantity of one SKU at the warehouse, as of a snapshot time."""

    sku: str
    available: int
    as_of: datetime | None = None
    facility: str = ""

    def __post_init__(self) -> None:
        _require_aware("as_of", self.as_of)


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    """Units of one SKU (and, when known, one order line) in a shipment."""

    sku: str
    quantity: int
    line_number: int | None = None
    line_id: str = ""  # the platform's order-line id, filled in from the ledger before pushing


@dataclass(frozen=True, slots=True)
class Shipment:
    """A package the warehouse shipped for one order: carrier, tracking and the lines in it."""

    order_number: str
    tracking_number: str
    carrier: str
    lines: tuple[ShipmentLine, ...]
    service: str = ""
    shipped_at: datetime | None = None
    order_id: str = ""  # the platform's order id, filled in from the ledger before pushing
    tracking_url: str = ""

    def __post_init__(self) -> None:
        _require_aware("shipped_at", self.shipped_at)

    @property
    def key(self) -> str:
        """Identity of this shipment for exactly-once pushing: order + tracking number."""
        return f"{self.order_number}|{self.tracking_number}"


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a store did with a batch we pushed: keys accepted, and keys refused with why."""

    accepted: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()  # (key, reason)
    details: dict[str, str] = field(
        default_factory=dict
    )  # key -> platform id (e.g. fulfillment id)

"""BigCommerce's records to DropStream's and back (pure): v2 orders, v2 shipment bodies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from adapters.allocation import Take
from adapters.results import Rejected
from dropstream.errors import DataError
from dropstream.models import Address, Order, OrderLine, Shipment

# tracking_carrier values BigCommerce knows (others go into shipping_method, tracking_link).
CARRIERS = {
    "ups",
    "usps",
    "fedex",
    "dhl",
    "royal-mail",
    "canada-post",
    "australia-post",
    "auspost",
    "dpd",
    "gls",
    "tnt",
    "purolator",
    "ontrac",
}


def parse_time(value: str) -> datetime:
    """BigCommerce v2 dates are RFC 2822 (``Sun, 01 Mar 2026 12:00:00 +0000``)."""
    return parsedate_to_datetime(value).astimezone(UTC)


def to_order(raw: dict[str, Any]) -> Order:
    """One v2 order with its ``products`` and ``shipping_addresses`` lists merged in."""
    try:
        addresses = raw.get("shipping_addresses") or []
        if len(addresses) != 1:
            raise DataError(
                f"BigCommerce order {raw.get('id')} ships to {len(addresses)} "
                "addresses; only single-address orders are supported"
            )
        ship = addresses[0]
        billing = raw.get("billing_address") or {}
        lines = raw.get("products") or []
        return Order(
            order_id=str(raw["id"]),
            number=str(raw["id"]),
            created_at=parse_time(raw["date_created"]),
            updated_at=parse_time(raw["date_modified"]),
            ship_to=_address(ship),
            bill_to=_address(billing),
            lines=tuple(
                OrderLine(
                    line_id=str(ln["id"]),
                    sku=ln.get("sku") or "",
                    quantity=int(ln["quantity"]),
                    unit_price=Decimal(str(ln["price_inc_tax"])),
                    line_number=n,
                    # "digital" (and gift certificates) are not shipped
                    requires_shipping=(ln.get("type") or "physical") == "physical",
                )
                for n, ln in enumerate(lines, start=1)
            ),
            email=ship.get("email") or billing.get("email") or "",
            ship_method=ship.get("shipping_method") or "",
            currency=raw.get("currency_code") or "USD",
            notes=raw.get("customer_message") or "",
            financial_status=raw.get("payment_status") or "",
            fulfillment_status=raw.get("status") or "",
            channel="bigcommerce",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(f"BigCommerce order {raw.get('id')!r} is malformed: {exc!r}") from exc


def _address(raw: dict[str, Any]) -> Address:
    return Address(
        name=" ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p),
        company=raw.get("company") or "",
        address1=raw.get("street_1") or "",
        address2=raw.get("street_2") or "",
        city=raw.get("city") or "",
        state=raw.get("state") or "",
        postal_code=raw.get("zip") or "",
        country=raw.get("country_iso2") or "",
        phone=raw.get("phone") or "",
    )


def shipment_body(shipment: Shipment, takes: Sequence[Take]) -> dict[str, Any]:
    """The v2 shipment of one package, from the order products it takes (``Take.line.ref``)."""
    order = f"order {shipment.order_number}"
    items: dict[int, int] = {}
    for take in takes:
        product_id = take.line.ref["id"]
        items[product_id] = items.get(product_id, 0) + take.quantity
    addresses = {int(take.line.ref["order_address_id"]) for take in takes}
    if not items:
        raise Rejected(f"{order}: nothing left to ship (already shipped?)")
    if len(addresses) > 1:
        raise Rejected(f"{order}: the package holds lines for {len(addresses)} addresses")
    body: dict[str, Any] = {
        "order_address_id": addresses.pop(),
        "tracking_number": shipment.tracking_number,
        "items": [{"order_product_id": pid, "quantity": qty} for pid, qty in items.items()],
    }
    carrier = shipment.carrier.strip().lower().replace(" ", "-")
    if carrier in CARRIERS:
        body["tracking_carrier"] = carrier
    body["shipping_method"] = " ".join(p for p in (shipment.carrier, shipment.service) if p)
    if shipment.tracking_url:
        body["tracking_link"] = shipment.tracking_url
    return body

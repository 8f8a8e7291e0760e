"""Pure mapping between SP-API shapes (Orders API v2026-01-01) and DropStream's models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.times import parse_iso
from dropstream.errors import DataError
from dropstream.models import Address, Order, OrderLine

# Amazon's carrier codes we map onto; anything else is sent as "Other" with carrierName.
CARRIER_CODES = {
    code.lower(): code
    for code in (
        "UPS",
        "USPS",
        "FedEx",
        "DHL",
        "DHL eCommerce",
        "OnTrac",
        "Amazon Shipping",
        "Royal Mail",
        "Parcelforce",
        "Canada Post",
        "Deutsche Post",
        "Hermes",
        "DPD",
        "GLS",
        "Yodel",
    )
}


def carrier_fields(carrier: str) -> dict[str, str]:
    """``carrierCode`` from Amazon's list, else ``Other`` plus ``carrierName``."""
    code = CARRIER_CODES.get(carrier.strip().lower())
    return {"carrierCode": code} if code else {"carrierCode": "Other", "carrierName": carrier}


def to_address(raw: dict[str, Any] | None) -> Address:
    raw = raw or {}
    return Address(
        name=raw.get("name") or "",
        company=raw.get("companyName") or "",
        address1=raw.get("addressLine1") or "",
        address2=" ".join(filter(None, (raw.get("addressLine2"), raw.get("addressLine3")))),
        city=raw.get("city") or "",
        state=raw.get("stateOrRegion") or "",
        postal_code=raw.get("postalCode") or "",
        country=raw.get("countryCode") or "",
        phone=raw.get("phone") or "",
    )


def to_line(raw: dict[str, Any], number: int) -> tuple[OrderLine, str]:
    product = raw.get("product") or {}
    price = ((product.get("price") or {}).get("unitPrice")) or {}
    line = OrderLine(
        line_id=str(raw["orderItemId"]),
        sku=product.get("sellerSku") or "",
        quantity=int(raw["quantityOrdered"]),
        unit_price=Decimal(str(price.get("amount", "0"))),
        line_number=number,
    )
    return line, price.get("currencyCode") or ""


def to_order(raw: dict[str, Any]) -> Order:
    """One v2026-01-01 ``Order`` (with BUYER, RECIPIENT, FULFILLMENT) -> Order."""
    try:
        mapped = [to_line(item, n) for n, item in enumerate(raw.get("orderItems") or [], 1)]
        fulfillment = raw.get("fulfillment") or {}
        recipient = raw.get("recipient") or {}
        return Order(
            order_id=str(raw["orderId"]),
            number=str(raw["orderId"]),
            created_at=parse_iso(raw["createdTime"]),
            updated_at=parse_iso(raw["lastUpdatedTime"]),
            ship_to=to_address(recipient.get("deliveryAddress")),
            lines=tuple(line for line, _ in mapped),
            email=(raw.get("buyer") or {}).get("buyerEmail") or "",
            ship_method=fulfillment.get("fulfillmentServiceLevel") or "",
            currency=next((c for _, c in mapped if c), "USD"),
            fulfillment_status=fulfillment.get("fulfillmentStatus") or "",
            channel="amazon",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(f"Amazon order {raw.get('orderId')!r} is malformed: {exc!r}") from exc

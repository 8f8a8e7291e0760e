"""Pure mapping between SP-API shapes (Orders API v2026-01-01) and DropStream's models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.results import Rejected
from adapters.times import ISO_Z, parse_iso, query_time
from dropstream.errors import DataError
from dropstream.models import Address, Order, OrderLine, Shipment

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


def package_detail(order: dict[str, Any], shipment: Shipment) -> dict[str, Any]:
    """The shipmentConfirmation ``packageDetail`` of one package of ``order`` (read with
    PACKAGES): its items by line id or SKU, and the next numeric package reference of the order
    (unique within it)."""
    by_sku = {(i.get("product") or {}).get("sellerSku"): i for i in order["orderItems"]}
    items = []
    for line in shipment.lines:
        item_id = line.line_id or (by_sku.get(line.sku) or {}).get("orderItemId")
        if not item_id:
            raise Rejected(f"order {shipment.order_number}: no item for SKU {line.sku!r}")
        items.append({"orderItemId": item_id, "quantity": line.quantity})
    refs = [str(p.get("packageReferenceId") or "") for p in order["packages"]]
    numbers = [int(ref) for ref in refs if ref.isdigit()]
    detail: dict[str, Any] = {
        "packageReferenceId": str(max(numbers, default=0) + 1),
        **carrier_fields(shipment.carrier),
        "trackingNumber": shipment.tracking_number,
        "shipDate": query_time(shipment.shipped_at or datetime.now(UTC), ISO_Z),
        "orderItems": items,
    }
    if shipment.service:
        detail["shippingMethod"] = shipment.service
    return detail

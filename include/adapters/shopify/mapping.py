"""Pure mapping between Shopify's GraphQL shapes and DropStream's models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.times import parse_iso
from dropstream.errors import DataError
from dropstream.models import Address, Order, OrderLine


def search_value(text: str) -> str:
    """Quote a value for Shopify search syntax when it holds anything but plain characters."""
    if text and all(c.isalnum() or c in "-_." for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_address(raw: dict[str, Any] | None) -> Address:
    raw = raw or {}
    return Address(
        name=raw.get("name") or "",
        company=raw.get("company") or "",
        address1=raw.get("address1") or "",
        address2=raw.get("address2") or "",
        city=raw.get("city") or "",
        state=raw.get("provinceCode") or "",
        postal_code=raw.get("zip") or "",
        country=raw.get("countryCodeV2") or "",
        phone=raw.get("phone") or "",
    )


def to_line(raw: dict[str, Any], number: int) -> OrderLine:
    money = ((raw.get("originalUnitPriceSet") or {}).get("shopMoney")) or {}
    return OrderLine(
        line_id=raw["id"],
        sku=raw.get("sku") or "",
        quantity=int(raw["quantity"]),
        unit_price=Decimal(str(money.get("amount", "0"))),
        line_number=number,
        # Gift cards and digital products need no shipping (absent: an older query, assume yes).
        requires_shipping=bool(raw.get("requiresShipping", True)) and not raw.get("isGiftCard"),
    )


def to_order(raw: dict[str, Any]) -> Order:
    """One Shopify order node (as ORDERS selects it) -> Order."""
    try:
        lines = (raw.get("lineItems") or {}).get("nodes") or []
        shipping = raw.get("shippingLine") or {}
        return Order(
            order_id=raw["id"],
            number=str(raw["name"]).lstrip("#"),
            created_at=parse_iso(raw["createdAt"]),
            updated_at=parse_iso(raw["updatedAt"]),
            ship_to=to_address(raw.get("shippingAddress")),
            lines=tuple(to_line(line, n) for n, line in enumerate(lines, start=1)),
            email=raw.get("email") or "",
            ship_method=shipping.get("code") or shipping.get("title") or "",
            currency=raw.get("currencyCode") or "USD",
            financial_status=raw.get("displayFinancialStatus") or "",
            fulfillment_status=raw.get("displayFulfillmentStatus") or "",
            channel="shopify",
            tags=tuple(str(t) for t in raw.get("tags") or ()),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(
            f"Shopify order {raw.get('name') or raw.get('id')!r} is malformed: {exc!r}"
        ) from exc

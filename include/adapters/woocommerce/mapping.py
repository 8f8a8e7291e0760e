"""Pure mapping between WooCommerce REST v3 shapes and DropStream's models."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from adapters.times import parse_iso
from dropstream.errors import DataError
from dropstream.models import Address, Order, OrderLine


def to_address(raw: dict[str, Any] | None, phone: str = "") -> Address:
    raw = raw or {}
    name = " ".join(p for p in (raw.get("first_name"), raw.get("last_name")) if p)
    return Address(
        name=name,
        company=raw.get("company") or "",
        address1=raw.get("address_1") or "",
        address2=raw.get("address_2") or "",
        city=raw.get("city") or "",
        state=raw.get("state") or "",
        postal_code=raw.get("postcode") or "",
        country=raw.get("country") or "",
        phone=raw.get("phone") or phone,
    )


def to_line(raw: dict[str, Any], number: int, virtual: Collection[int] = ()) -> OrderLine:
    """A line item; it needs no shipping when its variation (else product) is in ``virtual``."""
    item = int(raw.get("variation_id") or 0) or int(raw.get("product_id") or 0)
    return OrderLine(
        line_id=str(raw["id"]),
        sku=raw.get("sku") or "",
        quantity=int(raw["quantity"]),
        unit_price=Decimal(str(raw.get("price") or 0)),
        line_number=number,
        requires_shipping=not (item and item in virtual),
    )


def to_order(raw: dict[str, Any], virtual: Collection[int] = ()) -> Order:
    """One order as ``GET /wp-json/wc/v3/orders`` returns it -> Order; ``virtual``: the ids of
    virtual products and variations (``products.virtual_items``), whose lines need no shipping."""
    try:
        billing = raw.get("billing") or {}
        shipping = raw.get("shipping") or {}
        # Orders of virtual-only carts have no shipping address: ship to the billing one.
        ship_to = shipping if shipping.get("address_1") else billing
        methods = raw.get("shipping_lines") or []
        return Order(
            order_id=str(raw["id"]),
            number=str(raw.get("number") or raw["id"]),
            created_at=parse_iso(raw["date_created_gmt"]),
            updated_at=parse_iso(raw["date_modified_gmt"]),
            ship_to=to_address(ship_to, phone=billing.get("phone") or ""),
            bill_to=to_address(billing),
            lines=tuple(
                to_line(ln, n, virtual) for n, ln in enumerate(raw.get("line_items") or [], 1)
            ),
            email=billing.get("email") or "",
            ship_method=(methods[0].get("method_title") or methods[0].get("method_id") or "")
            if methods
            else "",
            currency=raw.get("currency") or "USD",
            notes=raw.get("customer_note") or "",
            financial_status="paid" if raw.get("date_paid_gmt") else "",
            fulfillment_status=raw.get("status") or "",
            channel="woocommerce",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError, IndexError) as exc:
        raise DataError(
            f"WooCommerce order {raw.get('number') or raw.get('id')!r} is malformed: {exc!r}"
        ) from exc

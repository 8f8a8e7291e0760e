"""eBay's records to DropStream's (pure): getOrders orders, times and line prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.times import parse_iso
from dropstream.errors import DataError
from dropstream.models import Address, Cancellation, Order, OrderLine


def ebay_time(value: datetime, *, round_up: bool = False) -> str:
    """Millisecond UTC timestamp, as eBay filters want (rounded outward; we filter exactly)."""
    value = value.astimezone(UTC)
    if round_up and value.microsecond % 1000:
        value += timedelta(microseconds=1000 - value.microsecond % 1000)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def unit_price(line_cost: Decimal, quantity: int) -> Decimal:
    """eBay gives the line's cost (unit x quantity): exact cents when it divides evenly."""
    if quantity <= 1:
        return line_cost
    exact = line_cost / quantity
    exponent = line_cost.as_tuple().exponent
    places = line_cost if isinstance(exponent, int) and exponent < 0 else Decimal("0.01")
    cents = exact.quantize(places)
    return cents if cents * quantity == line_cost else exact.quantize(Decimal("0.000001"))


def to_address(ship_to: dict[str, Any]) -> Address:
    where = ship_to.get("contactAddress") or {}
    return Address(
        name=ship_to.get("fullName") or "",
        company=ship_to.get("companyName") or "",
        address1=where.get("addressLine1") or "",
        address2=where.get("addressLine2") or "",
        city=where.get("city") or "",
        state=where.get("stateOrProvince") or "",
        postal_code=where.get("postalCode") or "",
        country=where.get("countryCode") or "",
        phone=(ship_to.get("primaryPhone") or {}).get("phoneNumber") or "",
    )


def to_order(raw: dict[str, Any]) -> Order:
    """One getOrders ``Order`` -> Order (``number`` is eBay's order id)."""
    try:
        instructions = raw.get("fulfillmentStartInstructions") or [{}]
        step = instructions[0].get("shippingStep") or {}
        # Digital gift cards are e-mailed: an order whose every instruction is DIGITAL ships
        # nothing; a gift card bought as a gift carries giftDetails on its line.
        digital = all(i.get("fulfillmentInstructionsType") == "DIGITAL" for i in instructions)
        ship_to = step.get("shipTo") or {}
        lines = []
        currency = ""
        for number, item in enumerate(raw.get("lineItems") or [], start=1):
            cost = item.get("lineItemCost") or {}
            currency = currency or cost.get("currency") or ""
            quantity = int(item["quantity"])
            lines.append(
                OrderLine(
                    line_id=str(item["lineItemId"]),
                    sku=item.get("sku") or "",
                    quantity=quantity,
                    unit_price=unit_price(Decimal(str(cost.get("value", "0"))), quantity),
                    line_number=number,
                    requires_shipping=not digital and not item.get("giftDetails"),
                )
            )
        return Order(
            order_id=str(raw["orderId"]),
            number=str(raw["orderId"]),
            created_at=parse_iso(raw["creationDate"]),
            updated_at=parse_iso(raw["lastModifiedDate"]),
            ship_to=to_address(ship_to),
            lines=tuple(lines),
            email=ship_to.get("email") or "",
            ship_method=step.get("shippingServiceCode") or "",
            currency=currency or "USD",
            financial_status=raw.get("orderPaymentStatus") or "",
            fulfillment_status=raw.get("orderFulfillmentStatus") or "",
            channel="ebay",
        )
    except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(f"eBay order {raw.get('orderId')!r} is malformed: {exc!r}") from exc


def cancel_state(raw: dict[str, Any]) -> str:
    """``cancelStatus.cancelState`` of a getOrders order (``NONE_REQUESTED`` when absent)."""
    return str((raw.get("cancelStatus") or {}).get("cancelState") or "NONE_REQUESTED")


def to_cancellation(raw: dict[str, Any]) -> Cancellation:
    """A cancelled getOrders order -> Cancellation: eBay's ``cancelledDate`` (the order's last
    change when absent) and the buyer's or seller's ``cancelReason``s."""
    cancel = raw.get("cancelStatus") or {}
    order = to_order(raw)
    reasons = [r.get("cancelReason") for r in cancel.get("cancelRequests") or []]
    why = ", ".join(r for r in reasons if r)
    try:
        when = parse_iso(cancel["cancelledDate"]) if cancel.get("cancelledDate") else None
    except (AttributeError, TypeError, ValueError) as exc:
        raise DataError(
            f"eBay order {order.order_id}: cancelledDate {cancel.get('cancelledDate')!r} is "
            f"not a time: {exc}"
        ) from exc
    return Cancellation(
        order=order,
        cancelled_at=when or order.updated_at,
        reason=f"cancelled on eBay ({why})" if why else "cancelled on eBay",
    )

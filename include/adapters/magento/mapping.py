"""Magento's pure mapping: orders (whole units only), addresses, the ship and source-item bodies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.times import parse_iso, query_time
from dropstream import errors
from dropstream.models import Address, Cancellation, Order, OrderLine, Shipment

TIME = "%Y-%m-%d %H:%M:%S"  # UTC, as Magento stores, filters and answers times
CARRIERS = {"ups", "usps", "fedex", "dhl"}  # Magento's carrier codes; the rest is "custom"
DONE = ("qty_shipped", "qty_refunded", "qty_canceled")
CANCELLED = ("canceled,closed", "in")  # cancelled, or refunded in full (closed by credit memos)
WHY = {"canceled": "canceled in Magento", "closed": "refunded in full in Magento (order closed)"}
ADDRESS = {"company": "company", "city": "city", "postal_code": "postcode", "phone": "telephone"}


def shippable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's own items: a child (of a configurable or bundle product) ships via its parent."""
    return [item for item in items if not item.get("parent_item_id")]


def qty(item: dict[str, Any], *fields: str) -> int:
    """Whole units (a fractional quantity, "Qty Uses Decimals", is not shipped in part)."""
    given = {f: item.get(f) for f in fields}
    try:
        total = sum((Decimal(str(value or 0)) for value in given.values()), Decimal(0))
    except ArithmeticError:
        total = Decimal("NaN")
    if not total.is_finite() or total != int(total):
        raise ValueError(f"item {item.get('item_id')}: {given} is not a whole quantity")
    return int(total)


def to_order(raw: dict[str, Any]) -> Order:
    """One order of ``GET /V1/orders``; child items (of configurable/bundle products) skipped."""
    try:
        bill = raw.get("billing_address") or {}
        assigned = (raw.get("extension_attributes") or {}).get("shipping_assignments") or [{}]
        items = shippable(raw.get("items") or [])
        return Order(
            order_id=str(raw["entity_id"]),
            number=str(raw.get("increment_id") or raw["entity_id"]),
            created_at=parse_iso(raw["created_at"]),
            updated_at=parse_iso(raw["updated_at"]),
            ship_to=to_address((assigned[0].get("shipping") or {}).get("address") or bill),
            bill_to=to_address(bill),
            lines=tuple(to_line(item, n) for n, item in enumerate(items, start=1)),
            email=raw.get("customer_email") or bill.get("email") or "",
            ship_method=raw.get("shipping_description") or "",
            currency=raw.get("order_currency_code") or "USD",
            notes=raw.get("customer_note") or "",
            financial_status="paid" if Decimal(str(raw.get("total_due") or 0)) <= 0 else "",
            fulfillment_status=raw.get("status") or "",
            channel="magento",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError, IndexError) as exc:
        number = raw.get("increment_id") or raw.get("entity_id")
        raise errors.DataError(f"Magento order {number!r} is malformed: {exc!r}") from exc


def to_line(item: dict[str, Any], number: int) -> OrderLine:
    price = Decimal(str(item.get("price") or 0))
    ships = not item.get("is_virtual")  # virtual and downloadable products ship nothing
    return OrderLine(
        str(item["item_id"]), item.get("sku") or "", qty(item, "qty_ordered"), price, number, ships
    )


def to_address(raw: dict[str, Any]) -> Address:
    street, text = raw.get("street") or [""], {k: str(v or "") for k, v in raw.items()}
    return Address(
        name=" ".join(p for p in (text.get("firstname"), text.get("lastname")) if p),
        address1=street[0],
        address2=", ".join(street[1:]),
        state=text.get("region_code") or text.get("region") or "",
        country=text.get("country_id", ""),
        **{field: text.get(key, "") for field, key in ADDRESS.items()},
    )


def is_open(raw: dict[str, Any]) -> bool:
    """Paid (nothing due) and nothing shipped yet; ``state`` processing is asked of the API."""
    unshipped = not any(qty(i, "qty_shipped") for i in raw.get("items") or [])
    return unshipped and Decimal(str(raw.get("total_due") or 0)) <= 0


def open_quantities(items: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], int]]:
    """Item id -> (item, units ordered and not yet shipped, refunded or cancelled)."""
    return {str(i["item_id"]): (i, qty(i, "qty_ordered") - qty(i, *DONE)) for i in shippable(items)}


def ship_body(shipment: Shipment, items: dict[str, int]) -> dict[str, Any]:
    """``POST /V1/order/{id}/ship``: the items, one track (carrier code, title, number)."""
    carrier = shipment.carrier.strip().lower()
    track = {
        "track_number": shipment.tracking_number,
        "title": " ".join(p for p in (shipment.carrier, shipment.service) if p) or "Carrier",
        "carrier_code": carrier if carrier in CARRIERS else "custom",
    }
    lines = [{"order_item_id": int(item_id), "qty": n} for item_id, n in items.items()]
    return {"items": lines, "tracks": [track], "notify": True}


def source_items(skus: Sequence[str], wanted: dict[str, int], source: str) -> dict[str, Any]:
    """``POST /V1/inventory/source-items``: each SKU's quantity, in stock while it has any."""
    items = [(s, wanted[s]) for s in skus]
    fields = [
        {"sku": s, "source_code": source, "quantity": n, "status": int(n > 0)} for s, n in items
    ]
    return {"sourceItems": fields}


def to_cancellation(raw: dict[str, Any]) -> Cancellation:
    """An order in state ``canceled`` or ``closed`` -> Cancellation. Magento keeps no cancel time
    on the order: its ``updated_at`` stands in."""
    order = to_order(raw)
    reason = WHY.get(str(raw.get("state")), f"state {raw.get('state')!r} in Magento")
    return Cancellation(order=order, cancelled_at=order.updated_at, reason=reason)


def updated_between(since: datetime, until: datetime) -> list[tuple[str, str, str]]:
    """``searchCriteria`` filters: ``updated_at`` from/to (inclusive, whole seconds) around
    [since, until); the adapter filters what comes back to the window exactly."""
    return [("updated_at", query_time(since, TIME), "from"),
            ("updated_at", query_time(until, TIME, round_up=True), "to")]  # fmt: skip

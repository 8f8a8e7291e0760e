"""Walmart Marketplace's order shapes, as pure functions: orders and cancellations in, shipping
out (inventory and the key's access: ``feeds.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.allocation import OpenLine, allocate, totals
from adapters.results import Rejected
from adapters.times import ISO_Z, query_time
from dropstream.errors import DataError
from dropstream.models import Address, Cancellation, Order, OrderLine, Shipment

OPEN = ("Created", "Acknowledged")  # line statuses still to ship
CANCELLED = "Cancelled"
METHOD_CODES = ("Standard", "Express", "OneDay", "Freight", "WhiteGlove", "Value")
CARRIERS = ("UPS", "USPS", "FedEx", "DHL", "OnTrac")  # others go as otherCarrier
Raw = dict[str, Any]
#: How far before a window an order may have been created and still be modified in it (the
#: window's own createdStartDate; Walmart's default is 7 days, and keeps 180).
CREATED_BACK = timedelta(days=30)


def ms(value: Any) -> datetime:
    """Walmart's epoch milliseconds as aware UTC."""
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _lines(raw: Raw) -> list[Raw]:
    return list((raw.get("orderLines") or {}).get("orderLine") or [])


def _entries(line: Raw) -> list[Raw]:
    return list((line.get("orderLineStatuses") or {}).get("orderLineStatus") or [])


def statuses(raw: Raw) -> Iterator[tuple[str, str, str]]:
    """(line number, status, tracking number or '') per status entry of every line."""
    for line in _lines(raw):
        for entry in _entries(line):
            tracking = (entry.get("trackingInfo") or {}).get("trackingNumber") or ""
            yield str(line["lineNumber"]), str(entry.get("status")), str(tracking)


def open_lines(raw: Raw, wanted: tuple[str, ...] = OPEN) -> list[tuple[str, str, int]]:
    """(line number, SKU, units in the statuses ``wanted``: by default still Created or
    Acknowledged) of the lines that have some."""
    found = []
    for line in _lines(raw):
        entries = _entries(line)
        left = sum(int(e["statusQuantity"]["amount"]) for e in entries if e.get("status") in wanted)
        if left > 0:
            found.append((str(line["lineNumber"]), str(line["item"]["sku"]), left))
    return found


def cancelled(raw: Raw) -> bool:
    """Every unit of every line is Cancelled (a line cancelled beside open or shipped ones
    changes the order instead: ``to_order`` no longer counts its units)."""
    found = [status for _, status, _ in statuses(raw)]
    return bool(found) and all(status == CANCELLED for status in found)


def to_cancellation(raw: Raw) -> Cancellation:
    """A cancelled order: its cancelled units as lines, when (the latest status date) and why
    (Walmart's ``cancellationReason`` codes, in words)."""
    codes = sorted(
        {str(e.get("cancellationReason")) for ln in _lines(raw) for e in _entries(ln)} - {"None"}
    )
    why = ", ".join(code.lower().replace("_", " ") for code in codes)
    return Cancellation(
        order=to_order(raw, units=(CANCELLED,)),
        cancelled_at=modified_at(raw),
        reason=f"cancelled on Walmart ({why})" if why else "cancelled on Walmart",
    )


def orders_page(body: Raw) -> tuple[list[Raw], str | None]:
    """One ``GET /v3/orders`` answer: its orders, and the next page's cursor (None: last)."""
    listed = body["list"]
    orders = (listed.get("elements") or {}).get("order") or []
    return orders, (listed.get("meta") or {}).get("nextCursor") or None


def window(since: datetime, until: datetime) -> Raw:
    """The query of ``[since, until)`` on the status date, to the second. createdStartDate
    defaults to 7 days ago: it is widened to ``CREATED_BACK``."""
    return {
        "createdStartDate": query_time(since - CREATED_BACK, ISO_Z),
        "lastModifiedStartDate": query_time(since, ISO_Z),
        "lastModifiedEndDate": query_time(until, ISO_Z, round_up=True),
    }


def modified_in(since: datetime, until: datetime) -> Callable[[Raw], bool]:
    """Whether a raw order's status date (``modified_at``) lies in ``[since, until)``."""
    return lambda raw: since <= modified_at(raw) < until


def shipped_before(raw: Raw, tracking_number: str) -> str:
    """``po/lines`` already carrying ``tracking_number`` (a retry after a crash before the
    ledger's record), else ''."""
    done = sorted({n for n, _, t in statuses(raw) if t == tracking_number})
    return f"{raw['purchaseOrderId']}/{','.join(done)}" if done else ""


def units_to_ship(raw: Raw, shipment: Shipment) -> dict[str, int]:
    """Line number -> units of ``shipment``, spread over the open units (Rejected if none)."""
    what = f"Walmart order {shipment.order_number}"
    lines = [OpenLine(n, n, sku, left) for n, sku, left in open_lines(raw)]
    takes = allocate(shipment, lines, unmatched=lambda ln: f"{what}: no line for {ln.sku!r}")
    if not (shipped := totals(takes)):
        raise Rejected(f"{what}: nothing left to ship")
    return shipped


def needs_acknowledging(raw: Raw) -> bool:
    return any(status == "Created" for _, status, _ in statuses(raw))


def modified_at(raw: Raw) -> datetime:
    """Orders carry no modification time: the latest line status change, or the order date."""
    return ms(max([int(raw["orderDate"]), *(int(ln.get("statusDate") or 0) for ln in _lines(raw))]))


def shipping_body(shipment: Shipment, shipped: dict[str, int]) -> Raw:
    """``orderShipment`` for ``shipped`` (line number -> units), all under one tracking."""
    carrier = next((c for c in CARRIERS if c.lower() == shipment.carrier.lower()), None)
    method = next((m for m in METHOD_CODES if m.lower() == shipment.service.lower()), "Standard")
    tracking: Raw = {
        "shipDateTime": int((shipment.shipped_at or datetime.now(UTC)).timestamp() * 1000),
        "carrierName": {"carrier": carrier} if carrier else {"otherCarrier": shipment.carrier},
        "methodCode": method,
        "trackingNumber": shipment.tracking_number,
    }
    if shipment.tracking_url:
        tracking["trackingURL"] = shipment.tracking_url
    lines = [
        {
            "lineNumber": number,
            "orderLineStatuses": {
                "orderLineStatus": [
                    {
                        "status": "Shipped",
                        "statusQuantity": {"unitOfMeasurement": "EACH", "amount": str(units)},
                        "trackingInfo": tracking,
                    }
                ]
            },
        }
        for number, units in shipped.items()
    ]
    return {"orderShipment": {"orderLines": {"orderLine": lines}}}


def _address(info: Raw) -> Address:
    where = info.get("postalAddress") or {}
    country = str(where.get("country") or "")
    return Address(
        name=where.get("name") or "",
        address1=where.get("address1") or "",
        address2=where.get("address2") or "",
        city=where.get("city") or "",
        state=where.get("state") or "",
        postal_code=where.get("postalCode") or "",
        country="US" if country == "USA" else country,  # the US API answers "USA"
        phone=info.get("phone") or "",
    )


def to_order(raw: Raw, units: tuple[str, ...] = OPEN) -> Order:
    """One ``Order`` of ``GET /v3/orders`` -> Order, with the units still to ship per line (or
    those in the statuses ``units``); ``number`` is the purchase order id, the id every later
    call takes. Walmart order lines carry no "needs no shipping" mark (docs/platforms.md)."""
    try:
        left = {number: count for number, _, count in open_lines(raw, units)}
        lines, currency = [], ""
        for line in _lines(raw):
            number = str(line["lineNumber"])
            if number not in left:
                continue  # shipped or cancelled already
            charges = (line.get("charges") or {}).get("charge") or []
            price: Raw = next(
                (c["chargeAmount"] for c in charges if c["chargeName"] == "ItemPrice"), {}
            )
            currency = currency or price.get("currency") or ""
            lines.append(
                OrderLine(
                    line_id=number,
                    sku=str(line["item"]["sku"]),
                    quantity=left[number],
                    unit_price=Decimal(str(price.get("amount", "0"))),
                    line_number=int(number),
                )
            )
        info = raw.get("shippingInfo") or {}
        return Order(
            order_id=str(raw["purchaseOrderId"]),
            number=str(raw["purchaseOrderId"]),
            created_at=ms(raw["orderDate"]),
            updated_at=modified_at(raw),
            ship_to=_address(info),
            lines=tuple(lines),
            email=raw.get("customerEmailId") or "",
            ship_method=info.get("methodCode") or "",
            currency=currency or "USD",
            fulfillment_status=",".join(sorted({status for _, status, _ in statuses(raw)})),
            channel="walmart",
        )
    except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(
            f"Walmart order {raw.get('purchaseOrderId')!r} is malformed: {exc!r}"
        ) from exc

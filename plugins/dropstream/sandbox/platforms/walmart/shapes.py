"""Walmart's shapes for the emulator: paths, the keys each body may hold, the error body, the
rate-limit placeholders, time conversions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.strict import unknown

ORDER_PATH = re.compile(r"^/v3/orders/([^/]+)(?:/(acknowledge|shipping))?$")
FEED_PATH = re.compile(r"^/v3/feeds/([^/]+)$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z)?$")
#: Query parameters of getAllOrders (API reference), the cursor's own included.
ORDERS_QUERY = {
    "sku",
    "customerOrderId",
    "purchaseOrderId",
    "status",
    "createdStartDate",
    "createdEndDate",
    "fromExpectedShipDate",
    "toExpectedShipDate",
    "lastModifiedStartDate",
    "lastModifiedEndDate",
    "limit",
    "productInfo",
    "shipNodeType",
    "shippingProgramType",
    "replacementInfo",
    "orderType",
    "hasMoreElements",
    "soIndex",
    "poIndex",
    "partnerId",
    "sellerId",
}
STATUSES = {"Created", "Acknowledged", "Shipped", "Delivered", "Cancelled"}
#: cancelOrderLines' ``cancellationReason`` enum (Orders API reference).
CANCEL_REASONS = {
    "CUSTOMER_REQUESTED_SELLER_TO_CANCEL",
    "SELLER_CANCEL_PRICING_ERROR",
    "SELLER_CANCEL_OUT_OF_STOCK",
    "SELLER_CANCEL_FRAUD_STOP_SHIPMENT",
    "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE",
}
SHIPMENT_KEYS = {"orderShipment"}
SHIPMENT_ORDER_KEYS = {"orderLines", "processMode"}
SHIPMENT_LINE_KEYS = {"lineNumber", "orderLineStatuses", "sellerOrderId", "intentToCancelOverride"}
SHIPPED_STATUS_KEYS = {"status", "statusQuantity", "trackingInfo", "returnCenterAddress"}
TRACKING_KEYS = {"shipDateTime", "carrierName", "methodCode", "trackingNumber", "trackingURL"}
INVENTORY_KEYS = {"sku", "quantity"}
QUANTITY_KEYS = {"unit", "amount"}
#: Placeholder buckets per API: (capacity, refill per second). Not Walmart's published figures.
LIMITS: dict[str, tuple[float, float]] = {
    "token": (100, 100 / 60),
    "token_detail": (100, 100 / 60),
    "orders": (5000, 5000 / 60),
    "order": (5000, 5000 / 60),
    "acknowledge": (5000, 5000 / 60),
    "shipping": (5000, 5000 / 60),
    "inventory": (5000, 5000 / 60),
    "feeds": (10, 10 / 3600),
    "feed_status": (5000, 5000 / 60),
}


def error(status: int, code: str, description: str, field: str = "") -> Reply:
    entry = {
        "code": code,
        "field": field or None,
        "description": description,
        "category": "REQUEST" if status < 500 else "SYSTEM",
        "severity": "ERROR",
    }
    return status, {"errors": [entry]}, {}


def only(query: dict[str, str], allowed: set[str]) -> Reply | None:
    """400 naming a query parameter the endpoint does not define."""
    if extra := unknown(query, allowed):
        return error(
            400, "INVALID_REQUEST_PARAM", f"unknown query parameter {extra[0]!r}", extra[0]
        )
    return None


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def date(value: str) -> int:
    day = value if "T" in value else value + "T00:00:00Z"
    return ms(datetime.fromisoformat(day.replace("Z", "+00:00")))


def strict(given: Any, allowed: set[str], where: str) -> Reply | None:
    if not isinstance(given, dict):
        return error(400, "INVALID_REQUEST_CONTENT.GMP_ORDER_API", f"{where} must be an object")
    if extra := unknown(given, allowed):
        return error(
            400, "INVALID_REQUEST_CONTENT", f"unknown field {extra[0]!r} in {where}", extra[0]
        )
    return None

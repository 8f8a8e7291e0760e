"""The emulated Orders API: the list with its cursor, acknowledgement, shipping updates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.platforms.walmart.shapes import (
    DATE,
    ORDERS_QUERY,
    SHIPMENT_KEYS,
    SHIPMENT_LINE_KEYS,
    SHIPMENT_ORDER_KEYS,
    SHIPPED_STATUS_KEYS,
    STATUSES,
    TRACKING_KEYS,
    date,
    error,
    ms,
    only,
    strict,
)


class OrdersApi:
    """``GET /v3/orders``, ``POST …/acknowledge``, ``POST …/shipping`` over ``orders``."""

    orders: dict[str, dict[str, Any]]
    shipments: list[tuple[str, str, dict[str, int]]]

    def _list(self, query: dict[str, str]) -> Reply:
        if refused := only(query, ORDERS_QUERY):
            return refused
        limit = int(query.get("limit") or 100) if (query.get("limit") or "100").isdigit() else 0
        if not 1 <= limit <= 200:
            return error(400, "INVALID_REQUEST_PARAM", "limit must be 1 to 200", "limit")
        bounds: dict[str, int] = {}
        for name in (
            "createdStartDate",
            "createdEndDate",
            "lastModifiedStartDate",
            "lastModifiedEndDate",
        ):
            if name in query:
                if not DATE.match(query[name]):
                    return error(400, "INVALID_REQUEST_PARAM", f"{name} is not a date", name)
                bounds[name] = date(query[name])
        if "createdStartDate" not in bounds and "purchaseOrderId" not in query:
            bounds["createdStartDate"] = ms(datetime.now(UTC)) - 7 * 86_400_000  # the default
        if query.get("status") and query["status"] not in STATUSES:
            return error(
                400,
                "INVALID_REQUEST_PARAM",
                "status is not one of " + ", ".join(sorted(STATUSES)),
                "status",
            )

        def keep(order: dict[str, Any]) -> bool:
            lines = order["orderLines"]["orderLine"]
            modified = max([order["orderDate"], *(line["statusDate"] for line in lines)])
            for value, low, high in (
                (order["orderDate"], "createdStartDate", "createdEndDate"),
                (modified, "lastModifiedStartDate", "lastModifiedEndDate"),
            ):
                if value < bounds.get(low, -1) or value > bounds.get(high, 1 << 62):
                    return False
            wanted = query.get("status")
            return not wanted or any(
                s["status"] == wanted
                for line in lines
                for s in line["orderLineStatuses"]["orderLineStatus"]
            )

        found = sorted(
            (o for o in self.orders.values() if keep(o)), key=lambda o: o["purchaseOrderId"]
        )
        if not found:  # Walmart answers a search that matches nothing with a 404
            return error(404, "CONTENT_NOT_FOUND.GMP_ORDER_API", "No order found")
        start = int(query.get("soIndex") or 0)
        meta: dict[str, Any] = {"totalCount": len(found), "limit": limit}
        if start + limit < len(found):
            base = {
                k: v
                for k, v in query.items()
                if k not in ("hasMoreElements", "soIndex", "poIndex", "partnerId", "sellerId")
            }
            cursor = {
                "hasMoreElements": "true",
                "soIndex": str(start + limit),
                "poIndex": str(start + limit),
                "partnerId": "100009",
                "sellerId": "8",
            } | base
            meta["nextCursor"] = "?" + "&".join(f"{k}={v}" for k, v in cursor.items())
        return (
            200,
            {"list": {"meta": meta, "elements": {"order": found[start : start + limit]}}},
            {},
        )

    def _acknowledge(self, order: dict[str, Any]) -> Reply:
        lines = order["orderLines"]["orderLine"]
        states = {e["status"] for ln in lines for e in ln["orderLineStatuses"]["orderLineStatus"]}
        if states <= {"Cancelled"}:
            return error(400, "INVALID_REQUEST_CONTENT.GMP_ORDER_API", "order is cancelled")
        now = ms(datetime.now(UTC))
        for line in order["orderLines"]["orderLine"]:
            for entry in line["orderLineStatuses"]["orderLineStatus"]:
                if entry["status"] == "Created":
                    entry["status"], line["statusDate"] = "Acknowledged", now
        return 200, {"order": order}, {}

    def _ship(self, order: dict[str, Any], body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return error(400, "INVALID_REQUEST_CONTENT", "body is not JSON")
        refused = strict(payload, SHIPMENT_KEYS, "body") or strict(
            payload["orderShipment"], SHIPMENT_ORDER_KEYS, "orderShipment"
        )
        if refused:
            return refused
        lines = {line["lineNumber"]: line for line in order["orderLines"]["orderLine"]}
        asked: dict[str, int] = {}
        tracking_number = ""
        for line in (payload["orderShipment"].get("orderLines") or {}).get("orderLine") or []:
            if refused := strict(line, SHIPMENT_LINE_KEYS, "orderLine"):
                return refused
            number = str(line.get("lineNumber"))
            if number not in lines:
                return error(
                    400, "INVALID_REQUEST_CONTENT", f"no order line {number}", "lineNumber"
                )
            for status in line["orderLineStatuses"]["orderLineStatus"]:
                tracking = status.get("trackingInfo") or {}
                refused = (
                    strict(status, SHIPPED_STATUS_KEYS, "orderLineStatus")
                    or strict(tracking, TRACKING_KEYS, "trackingInfo")
                    or strict(
                        status.get("statusQuantity"),
                        {"unitOfMeasurement", "amount"},
                        "statusQuantity",
                    )
                )
                if refused:
                    return refused
                if (
                    status.get("status") != "Shipped"
                    or not tracking.get("trackingNumber")
                    or not tracking.get("carrierName")
                ):
                    return error(
                        400,
                        "INVALID_REQUEST_CONTENT",
                        "status Shipped with trackingNumber and carrierName required",
                    )
                tracking_number = tracking["trackingNumber"]
                asked[number] = asked.get(number, 0) + int(status["statusQuantity"]["amount"])
        for number, qty in asked.items():
            entries = lines[number]["orderLineStatuses"]["orderLineStatus"]
            if any(e["status"] == "Created" for e in entries):
                return error(
                    400,
                    "INVALID_REQUEST_CONTENT",
                    f"line {number} is not acknowledged: acknowledge the order first",
                )
            left = sum(
                int(e["statusQuantity"]["amount"]) for e in entries if e["status"] == "Acknowledged"
            )
            if qty < 1 or qty > left:
                return error(
                    400,
                    "INVALID_REQUEST_CONTENT",
                    f"line {number}: {qty} exceeds the {left} left to ship",
                )
        now = ms(datetime.now(UTC))
        for number, qty in asked.items():
            line = lines[number]
            entries = line["orderLineStatuses"]["orderLineStatus"]
            acked = next(e for e in entries if e["status"] == "Acknowledged")
            acked["statusQuantity"]["amount"] = str(int(acked["statusQuantity"]["amount"]) - qty)
            if acked["statusQuantity"]["amount"] == "0":
                entries.remove(acked)
            entries.append(
                {
                    "status": "Shipped",
                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": str(qty)},
                    "trackingInfo": {"trackingNumber": tracking_number, "shipDateTime": now},
                }
            )
            line["statusDate"] = now
        self.shipments.append((order["purchaseOrderId"], tracking_number, asked))
        return 200, {"order": order}, {}

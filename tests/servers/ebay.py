"""A strict local emulator of eBay's OAuth token endpoint and Sell Fulfillment/Inventory APIs.

Real HTTP on 127.0.0.1 (ephemeral port). Token endpoint: HTTP Basic client credentials,
``grant_type=refresh_token``, short-lived user tokens. APIs: ``Authorization: Bearer`` with a
live token (401 ``errorId 1001`` otherwise), getOrders with eBay's ``filter`` syntax and offset
pagination (``limit`` above ``max_limit`` -> 400; the maximum is configurable because eBay's
documented cap is unconfirmed), shipping fulfillments (201 + ``Location``; quantities beyond
what remains -> 400), ``bulk_update_price_quantity`` (1..25 requests, per-SKU statuses, 207 on
partial failure), eBay error bodies ``{"errors":[{"errorId","message"}]}`` and 429s.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.servers._http import LoopbackServer, Reply

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FILTER_DATE = re.compile(r"^(creationdate|lastmodifieddate):\[([^\]]*)\]$")
FILTER_STATUS = re.compile(r"^orderfulfillmentstatus:\{([A-Z_|]+)\}$")
ORDER_PATH = re.compile(r"^/sell/fulfillment/v1/order/([^/]+)(/shipping_fulfillment)?$")
BULK_CAP = 25


def _error(status: int, error_id: int, message: str) -> Reply:
    category = "REQUEST" if status < 500 else "APPLICATION"
    return status, {"errors": [{"errorId": error_id, "category": category, "message": message}]}, {}


def _time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class EbayEmulator:
    """The emulated seller account: seed it, point an adapter at ``url``, inspect it after."""

    def __init__(
        self,
        *,
        client_id: str = "DropStre-app-PRD-0123456789",
        client_secret: str = "PRD-secret-0123456789",
        refresh_token: str = "v^1.1#i^1#refresh-token",
        token_ttl: int = 7200,
        max_limit: int = 200,
    ) -> None:
        self.client_id, self.client_secret, self.refresh_token = (
            client_id,
            client_secret,
            refresh_token,
        )
        self.token_ttl = token_ttl
        self.max_limit = max_limit  # getOrders ``limit`` maximum (eBay's value is unconfirmed)
        self.orders: dict[str, dict[str, Any]] = {}
        self.quantities: dict[str, int] = {}
        self.fulfillments: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(
            self.handle, raw_target=True, content_type="application/json", json_default=None
        )

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> EbayEmulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        *,
        updated_at: datetime,
        created_at: datetime | None = None,
        lines: list[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),  # (sku, qty, unit price)
        ship_to: dict[str, Any] | None = None,
        payment_status: str = "PAID",
        currency: str = "USD",
        shipping_service: str = "USPSPriority",
    ) -> str:
        n = next(self._ids)
        order_id = f"{10 + n:02d}-{n:05d}-{n * 7:05d}"
        items = [
            {
                "lineItemId": f"{n}{i:04d}",
                "legacyItemId": f"1100{n}{i}",
                "sku": sku,
                "title": f"Item {sku}",
                "quantity": qty,
                "lineItemCost": {"value": str(Decimal(price) * qty), "currency": currency},
                "lineItemFulfillmentStatus": "NOT_STARTED",
            }
            for i, (sku, qty, price) in enumerate(lines, start=1)
        ]
        self.orders[order_id] = {
            "orderId": order_id,
            "legacyOrderId": f"1100{n}-2200{n}",
            "creationDate": _time(created_at or updated_at),
            "lastModifiedDate": _time(updated_at),
            "orderFulfillmentStatus": "NOT_STARTED",
            "orderPaymentStatus": payment_status,
            "buyer": {"username": f"buyer{n}"},
            "pricingSummary": {"total": {"value": "0.00", "currency": currency}},
            "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
            "fulfillmentStartInstructions": [
                {
                    "fulfillmentInstructionsType": "SHIP_TO",
                    "shippingStep": {
                        "shippingServiceCode": shipping_service,
                        "shipTo": ship_to
                        or {
                            "fullName": "Ada Buyer",
                            "contactAddress": {
                                "addressLine1": "1 Main St",
                                "city": "Springfield",
                                "stateOrProvince": "OR",
                                "postalCode": "97477",
                                "countryCode": "US",
                            },
                            "primaryPhone": {"phoneNumber": "5415550100"},
                            "email": f"buyer{n}@members.ebay.com",
                        },
                    },
                }
            ],
            "lineItems": items,
        }
        return order_id

    def add_listing(self, sku: str, quantity: int = 0) -> None:
        self.quantities[sku] = quantity

    def expire_tokens(self) -> None:
        """Revoke every access token issued so far: the next API call gets a 401."""
        self.tokens.clear()

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        self._failures.extend([status] * n)

    def calls(self, method: str, path_prefix: str) -> int:
        return sum(
            1 for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)
        )

    # --- request handling -------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        split = urlsplit(target)
        log: dict[str, Any] = {"method": method, "path": split.path, "query": split.query}
        self.requests.append(log)
        try:
            with self._lock:
                reply = self._route(method, split.path, parse_qs(split.query), headers, body)
        except Exception as exc:  # an emulator bug must fail the test loudly, not hang it
            log["crash"] = repr(exc)
            reply = _error(500, 10001, f"emulator crashed: {exc!r}")
        log["status"] = reply[0]
        return reply

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        if path == "/identity/v1/oauth2/token":
            return self._token(method, headers, body)
        if not path.startswith("/sell/"):
            return _error(404, 2002, "Resource not found")
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return _error(401, 1001, "Invalid access token")
        if self._failures:
            status = self._failures.pop(0)
            if status == 429:
                return _error(429, 2001, "Too many requests. The request limit has been reached.")
            return _error(status, 10001, "System error. Unable to process your request.")
        if method in ("POST", "PUT") and "application/json" not in headers.get("Content-Type", ""):
            return _error(415, 2003, "Unsupported media type: use application/json")
        payload = None
        if method in ("POST", "PUT"):
            try:
                payload = json.loads(body or b"null")
            except ValueError:
                return _error(400, 2004, "Request body is not valid JSON")
        if path == "/sell/fulfillment/v1/order":
            return self._orders(method, query)
        if match := ORDER_PATH.match(path):
            order = self.orders.get(unquote(match[1]))
            if order is None:
                return _error(404, 32100, f"Invalid order ID: {unquote(match[1])}")
            if match[2] is None:
                return (200, order, {}) if method == "GET" else _error(405, 2005, "Not allowed")
            return self._shipping_fulfillment(method, order, payload)
        if path == "/sell/inventory/v1/bulk_update_price_quantity" and method == "POST":
            return self._bulk_quantity(payload)
        if path == "/sell/inventory/v1/inventory_item" and method == "GET":
            items = [{"sku": sku} for sku in sorted(self.quantities)]
            return 200, {"inventoryItems": items, "total": len(items)}, {}
        return _error(404, 2002, "Resource not found")

    def _token(self, method: str, headers: Any, body: bytes) -> Reply:
        if method != "POST":
            return 405, {"error": "invalid_request"}, {}
        if "application/x-www-form-urlencoded" not in headers.get("Content-Type", ""):
            return 400, {"error": "invalid_request", "error_description": "bad content type"}, {}
        pair = f"{self.client_id}:{self.client_secret}".encode()
        if headers.get("Authorization") != "Basic " + base64.b64encode(pair).decode():
            failed = {
                "error": "invalid_client",
                "error_description": "client authentication failed",
            }
            return 401, failed, {}
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != (
            self.refresh_token
        ):
            description = "the provided authorization refresh token is invalid"
            return 400, {"error": "invalid_grant", "error_description": description}, {}
        token = f"v^1.1#i^1#access-{next(self._ids)}"
        self.tokens.add(token)
        reply = {
            "access_token": token,
            "expires_in": self.token_ttl,
            "token_type": "User Access Token",
        }
        return 200, reply, {}

    def _orders(self, method: str, query: dict[str, list[str]]) -> Reply:
        if method != "GET":
            return _error(405, 2005, "Method not allowed")
        try:
            limit = int(query.get("limit", ["50"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return _error(400, 30700, "The 'limit' and 'offset' values must be integers")
        if not 1 <= limit <= self.max_limit or offset < 0:
            return _error(400, 30700, f"The 'limit' value must be between 1 and {self.max_limit}")
        checks = []
        for criterion in filter(None, (query.get("filter") or [""])[0].split(",")):
            if m := FILTER_DATE.match(criterion):
                start, _, end = m[2].partition("..")
                if not TIME.match(start) or (end and not TIME.match(end)):
                    return _error(400, 30800, f"Invalid date in filter {criterion!r}")
                field = "creationDate" if m[1] == "creationdate" else "lastModifiedDate"
                checks.append(lambda o, f=field, a=start, b=end: _within(o[f], a, b))
            elif m := FILTER_STATUS.match(criterion):
                wanted = set(m[1].split("|"))
                if not wanted <= {"NOT_STARTED", "IN_PROGRESS", "FULFILLED"}:
                    return _error(400, 30800, f"Invalid fulfillment status in {criterion!r}")
                checks.append(lambda o, w=wanted: o["orderFulfillmentStatus"] in w)
            else:
                return _error(400, 30800, f"Invalid filter criterion {criterion!r}")
        found = sorted(
            (o for o in self.orders.values() if all(check(o) for check in checks)),
            key=lambda o: (o["lastModifiedDate"], o["orderId"]),
        )
        reply = {"total": len(found), "limit": limit, "offset": offset}
        reply["orders"] = found[offset : offset + limit]
        return 200, reply, {}

    def _shipping_fulfillment(self, method: str, order: dict[str, Any], payload: Any) -> Reply:
        mine = [f for f in self.fulfillments if f["orderId"] == order["orderId"]]
        if method == "GET":
            listed = [{k: v for k, v in f.items() if k != "orderId"} for f in mine]
            return 200, {"fulfillments": listed, "total": len(listed)}, {}
        if method != "POST":
            return _error(405, 2005, "Method not allowed")
        if not isinstance(payload, dict) or not payload.get("lineItems"):
            return _error(400, 32200, "lineItems is required")
        for field in ("shippingCarrierCode", "trackingNumber"):
            if not isinstance(payload.get(field), str) or not payload[field]:
                return _error(400, 32400, f"{field} is required")
        if "shippedDate" in payload and not TIME.match(str(payload["shippedDate"])):
            return _error(400, 32500, "shippedDate must be yyyy-MM-ddThh:mm:ss.sssZ")
        items = {item["lineItemId"]: item for item in order["lineItems"]}
        shipped = {lid: 0 for lid in items}
        for f in mine:
            for line in f["lineItems"]:
                shipped[line["lineItemId"]] += line["quantity"]
        asked: dict[str, int] = {}
        for line in payload["lineItems"]:
            line_id, qty = line.get("lineItemId"), line.get("quantity")
            if line_id not in items or not isinstance(qty, int) or qty < 1:
                return _error(400, 32100, f"Invalid line item {line!r}")
            asked[line_id] = asked.get(line_id, 0) + qty
            if shipped[line_id] + asked[line_id] > items[line_id]["quantity"]:
                return _error(400, 32600, f"Quantity exceeds what remains of {line_id}")
        fulfillment_id = f"{payload['trackingNumber']}-{next(self._ids)}"
        self.fulfillments.append(
            {
                "orderId": order["orderId"],
                "fulfillmentId": fulfillment_id,
                "shipmentTrackingNumber": payload["trackingNumber"],
                "shippingCarrierCode": payload["shippingCarrierCode"],
                "shippedDate": payload.get("shippedDate") or _time(datetime.now(UTC)),
                "lineItems": [{"lineItemId": k, "quantity": v} for k, v in asked.items()],
            }
        )
        for line_id, qty in asked.items():
            shipped[line_id] += qty
        done = all(shipped[lid] >= item["quantity"] for lid, item in items.items())
        order["orderFulfillmentStatus"] = "FULFILLED" if done else "IN_PROGRESS"
        order["lastModifiedDate"] = _time(datetime.now(UTC))
        location = f"{self.url}/sell/fulfillment/v1/order/{order['orderId']}/shipping_fulfillment"
        return 201, None, {"Location": f"{location}/{fulfillment_id}"}

    def _bulk_quantity(self, payload: Any) -> Reply:
        requests_ = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests_, list) or not 1 <= len(requests_) <= BULK_CAP:
            return _error(400, 25709, f"'requests' must hold 1 to {BULK_CAP} entries")
        responses = []
        for request in requests_:
            sku = request.get("sku")
            quantity = (request.get("shipToLocationAvailability") or {}).get("quantity")
            if not isinstance(quantity, int) or quantity < 0:
                responses.append(_sku_error(sku, 400, 25604, "Invalid quantity"))
            elif sku not in self.quantities:
                responses.append(_sku_error(sku, 404, 25710, f"SKU {sku} is not available"))
            else:
                self.quantities[sku] = quantity
                responses.append({"statusCode": 200, "sku": sku, "offerId": f"offer-{sku}"})
        partial = any(r["statusCode"] != 200 for r in responses)
        return (207 if partial else 200), {"responses": responses}, {}


def _within(value: str, start: str, end: str) -> bool:
    when = _parse(value)
    return _parse(start) <= when and (not end or when <= _parse(end))


def _sku_error(sku: Any, status: int, error_id: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "sku": sku, "errors": [{"errorId": error_id, "message": message}]}


def ebay_connection_json(emulator: EbayEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>`` pointing at the emulator."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "login": emulator.client_id,
            "password": emulator.client_secret,
            "extra": {"refresh_token": emulator.refresh_token, **extra},
        }
    )


@pytest.fixture
def ebay_emulator() -> Iterator[EbayEmulator]:
    """A fresh emulated eBay seller account per test, on an ephemeral loopback port."""
    emulator = EbayEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()

"""A strict local emulator of Walmart Marketplace API v3 (US): token, orders, inventory, feeds.

Real HTTP on 127.0.0.1 (ephemeral port). ``POST /v3/token``: HTTP Basic client id/secret,
``grant_type=client_credentials``, tokens that expire (``token_ttl``, 900 s as Walmart's).
Every API call needs ``WM_SEC.ACCESS_TOKEN`` (401 otherwise), ``WM_SVC.NAME`` and
``WM_QOS.CORRELATION_ID`` (400 ``INVALID_REQUEST_HEADER``). Errors are Walmart's shape
``{"errors": [{"code", "field", "description", "category", "severity"}]}``; a query parameter
or body key the API reference does not define is a 400 naming it.

Orders: ``GET /v3/orders`` with the reference's filters (``lastModified*``/``created*`` bounds
inclusive, ``createdStartDate`` 7 days ago when not given, ``status`` one value, ``limit``
1..200; a search matching nothing is 404 ``CONTENT_NOT_FOUND.GMP_ORDER_API``) and
``meta.nextCursor`` (the next page's query string, absent on the last page);
``GET /v3/orders/{po}``; ``POST …/acknowledge`` (Created -> Acknowledged, status date moved
on); ``POST …/shipping`` (lines must be Acknowledged; more than is left -> 400).
Inventory: ``PUT /v3/inventory?sku=``, ``POST /v3/feeds?feedType=inventory`` (multipart
``file``, spec 1.4 JSON) and ``GET /v3/feeds/{id}`` (``INPROGRESS`` for
``feed_polls_in_progress`` polls, then ``PROCESSED`` with per-SKU ``itemIngestionStatus``).

Access: each client (``clients``; ``add_client`` for more) has its access per API area as
``GET /v3/token/detail`` lists it (the seller's own key: ``scopes``, ``full_access`` everywhere
by default); a token serves the client it was issued to; reads need ``view_only``, writes
``full_access`` (403 otherwise).

Rate limits: a token bucket per API (``limits``: capacity, refill per second), answered in
``x-current-token-count`` / ``x-next-replenishment-time`` (epoch ms) on every call, 429 when
empty. Walmart's per-API figures are on its "Rate limiting" page, which could not be
read from here: the defaults are placeholders, not Walmart's numbers (docs/platforms.md).
"""

from __future__ import annotations

import base64
import email.policy
import itertools
import json
import math
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dropstream.sandbox.http import Reply
from dropstream.sandbox.strict import StrictEmulator, TokenBucket, unknown

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


def _error(status: int, code: str, description: str, field: str = "") -> Reply:
    entry = {
        "code": code,
        "field": field or None,
        "description": description,
        "category": "REQUEST" if status < 500 else "SYSTEM",
        "severity": "ERROR",
    }
    return status, {"errors": [entry]}, {}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _date(value: str) -> int:
    day = value if "T" in value else value + "T00:00:00Z"
    return _ms(datetime.fromisoformat(day.replace("Z", "+00:00")))


def _strict(given: Any, allowed: set[str], where: str) -> Reply | None:
    if not isinstance(given, dict):
        return _error(400, "INVALID_REQUEST_CONTENT.GMP_ORDER_API", f"{where} must be an object")
    if extra := unknown(given, allowed):
        return _error(
            400, "INVALID_REQUEST_CONTENT", f"unknown field {extra[0]!r} in {where}", extra[0]
        )
    return None


class WalmartEmulator(StrictEmulator):
    """The emulated seller: seed it, point an adapter at ``url``, inspect it afterwards."""

    raw_target = True
    content_type = "application/json"
    json_default = None

    def __init__(
        self,
        *,
        client_id: str = "6e1f3c5a-walmart-client",
        client_secret: str = "wm-secret-0123456789",
        token_ttl: int = 900,
        limits: dict[str, tuple[float, float]] | None = None,
        feed_polls_in_progress: int = 1,
        feed_detail_max: int = 1000,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self.scopes: dict[str, str] = {
            area: "full_access" for area in ("orders", "inventory", "feeds", "item", "reports")
        }
        self.orders: dict[str, dict[str, Any]] = {}
        self.quantities: dict[str, int] = {}
        self.shipments: list[tuple[str, str, dict[str, int]]] = []  # (po, tracking, lines)
        self.feeds: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, tuple[float, str]] = {}  # token -> (expiry, epoch s; client id)
        #: client id -> (secret, access per API area): the seller's own key and any others
        self.clients: dict[str, tuple[str, dict[str, str]]] = {
            client_id: (client_secret, self.scopes)
        }
        self.buckets = {k: TokenBucket(c, r) for k, (c, r) in (LIMITS | (limits or {})).items()}
        self.throttled = 0
        self.feed_polls_in_progress, self.feed_detail_max = feed_polls_in_progress, feed_detail_max
        self._ids = itertools.count(1)

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        *,
        updated_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),
        address: dict[str, Any] | None = None,
        status: str = "Created",
        currency: str = "USD",
    ) -> str:
        n = next(self._ids)
        po = f"{1796277083000 + n}"
        self.orders[po] = {
            "purchaseOrderId": po,
            "customerOrderId": f"{5281956426000 + n}",
            "customerEmailId": f"{n:032X}@relay.walmart.com",
            "orderDate": _ms(created_at or updated_at),
            "shippingInfo": {
                "phone": "3155598681",
                "estimatedDeliveryDate": _ms(updated_at) + 5 * 86_400_000,
                "estimatedShipDate": _ms(updated_at) + 86_400_000,
                "methodCode": "Standard",
                "postalAddress": address
                or {
                    "name": "Ada Buyer",
                    "address1": "1 Main St",
                    "address2": None,
                    "city": "Springfield",
                    "state": "OR",
                    "postalCode": "97477",
                    "country": "USA",
                    "addressType": "RESIDENTIAL",
                },
            },
            "orderLines": {
                "orderLine": [
                    {
                        "lineNumber": str(i),
                        "item": {"productName": f"Item {sku}", "sku": sku},
                        "charges": {
                            "charge": [
                                {
                                    "chargeType": "PRODUCT",
                                    "chargeName": "ItemPrice",
                                    "chargeAmount": {
                                        "currency": currency,
                                        "amount": float(Decimal(price)),
                                    },
                                    "tax": {
                                        "taxName": "Tax1",
                                        "taxAmount": {"currency": currency, "amount": 0},
                                    },
                                }
                            ]
                        },
                        "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": str(qty)},
                        "statusDate": _ms(updated_at),
                        "orderLineStatuses": {
                            "orderLineStatus": [
                                {
                                    "status": status,
                                    "statusQuantity": {
                                        "unitOfMeasurement": "EACH",
                                        "amount": str(qty),
                                    },
                                }
                            ]
                        },
                        "fulfillment": {"fulfillmentOption": "S2H", "shipMethod": "STANDARD"},
                    }
                    for i, (sku, qty, price) in enumerate(lines, start=1)
                ]
            },
        }
        return po

    def add_item(self, sku: str, quantity: int = 0) -> None:
        self.quantities[sku] = quantity

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now: the next API call gets a 401."""
        self.tokens = {token: (0.0, client) for token, (_, client) in self.tokens.items()}

    def add_client(self, client_id: str, client_secret: str, **scopes: str) -> None:
        """Another API key (e.g. a solution provider's) with its own access per area
        (``orders="view_only"``, …; areas not named have no access)."""
        self.clients[client_id] = (client_secret, dict(scopes))

    # --- request handling -------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        split = urlsplit(target)
        log: dict[str, Any] = {"method": method, "path": split.path, "query": split.query}
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        return self.answer(log, lambda: self._route(method, split.path, query, headers, body))

    def crash_reply(self, exc: Exception) -> Reply:
        return _error(500, "INTERNAL_SERVER_ERROR", f"emulator crashed: {exc!r}")

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> Reply:
        missing = [h for h in ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID") if not headers.get(h)]
        if missing:
            return _error(400, "INVALID_REQUEST_HEADER", f"missing header {missing[0]}", missing[0])
        client = self._basic_client(headers.get("Authorization", ""))
        if path == "/v3/token" and method == "POST":
            return self._metered("token", lambda: self._token(client, body))
        token = self.tokens.get(headers.get("WM_SEC.ACCESS_TOKEN", ""))
        if token is None or token[0] <= time.time():
            return _error(401, "UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized")
        if client != token[1]:
            return _error(401, "UNAUTHORIZED.GMP_GATEWAY_API", "Invalid client credentials")
        kind, area, write = self._classify(method, path)
        if kind is None:
            return _error(404, "NOT_FOUND", f"no such resource: {method} {path}")
        level = self.clients[client][1].get(area, "no_access") if area else "full_access"
        if level == "no_access" or (write and level != "full_access"):
            return _error(
                403,
                "FORBIDDEN.GMP_GATEWAY_API",
                f"no {'full' if write else 'view'} access to {area}",
            )
        if failure := self.next_failure():
            status = failure[0]
            return _error(
                status,
                "TOO_MANY_REQUESTS" if status == 429 else "SERVICE_UNAVAILABLE",
                "injected failure",
            )
        return self._metered(
            kind, lambda: self._api(kind, client, method, path, query, headers, body)
        )

    def _basic_client(self, authorization: str) -> str:
        """The client id of a valid ``Basic`` header, else ''."""
        try:
            pair = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        except ValueError:
            return ""
        client_id, _, secret = pair.partition(":")
        known = self.clients.get(client_id)
        return client_id if known is not None and known[0] == secret else ""

    @staticmethod
    def _classify(method: str, path: str) -> tuple[str | None, str, bool]:
        """(bucket, API area whose access it needs, whether it writes); None: no such call."""
        order = ORDER_PATH.match(path)
        calls = {
            ("GET", "/v3/token/detail"): ("token_detail", "", False),
            ("GET", "/v3/orders"): ("orders", "orders", False),
            ("PUT", "/v3/inventory"): ("inventory", "inventory", True),
            ("POST", "/v3/feeds"): ("feeds", "inventory", True),
        }
        if (method, path) in calls:
            return calls[(method, path)]
        if order and method == "GET" and not order[2]:
            return "order", "orders", False
        if order and method == "POST" and order[2]:
            return order[2], "orders", True
        if FEED_PATH.match(path) and method == "GET":
            return "feed_status", "feeds", False
        return None, "", False

    def _metered(self, kind: str, respond: Any) -> Reply:
        bucket = self.buckets[kind]
        taken = bucket.take()
        left = math.floor(bucket.available)
        refill = _ms(datetime.now(UTC)) + math.ceil(bucket.seconds_until(1.0) * 1000)
        meter = {"x-current-token-count": str(left), "x-next-replenishment-time": str(refill)}
        if not taken:
            self.throttled += 1
            status, payload, _ = _error(429, "TOO_MANY_REQUESTS", "Too Many Requests")
            return status, payload, meter
        status, payload, extra = respond()
        return status, payload, {**meter, **extra}

    def _token(self, client: str, body: bytes) -> Reply:
        if not client:
            return _error(401, "UNAUTHORIZED.GMP_GATEWAY_API", "invalid client credentials")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if extra := unknown(form, {"grant_type", "code", "redirect_uri", "refresh_token"}):
            return _error(400, "INVALID_REQUEST_PARAM", f"unknown parameter {extra[0]!r}", extra[0])
        if form.get("grant_type") != "client_credentials":
            return _error(400, "INVALID_REQUEST_PARAM", "grant_type must be client_credentials")
        token = f"eyJraWQiOi-{next(self._ids)}"
        self.tokens[token] = (time.time() + self.token_ttl, client)
        return (
            200,
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl},
            {},
        )

    def _api(
        self,
        kind: str,
        client: str,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Any,
        body: bytes,
    ) -> Reply:
        if kind == "token_detail":
            scopes = dict(self.clients[client][1])
            return self._only(query, set()) or (200, {"is_valid": True, "scopes": scopes}, {})
        if kind == "orders":
            return self._list(query)
        if kind in ("order", "acknowledge", "shipping"):
            match = ORDER_PATH.match(path)
            assert match is not None
            order = self.orders.get(unquote(match[1]))
            if order is None:
                return _error(404, "CONTENT_NOT_FOUND.GMP_ORDER_API", f"order {match[1]} not found")
            allowed = {"productInfo", "replacementInfo"} if kind == "order" else set()
            if refused := self._only(query, allowed):
                return refused
            if kind == "order":
                return 200, {"order": order}, {}
            if kind == "acknowledge":
                return self._acknowledge(order)
            return self._ship(order, body)
        if kind == "inventory":
            return self._only(query, {"sku", "shipNode"}) or self._put(query, body)
        if kind == "feeds":
            return self._only(query, {"feedType", "shipNode"}) or self._feed(query, headers, body)
        match = FEED_PATH.match(path)
        assert match is not None
        return self._only(query, {"includeDetails", "offset", "limit"}) or self._feed_status(
            match[1], query
        )

    @staticmethod
    def _only(query: dict[str, str], allowed: set[str]) -> Reply | None:
        if extra := unknown(query, allowed):
            return _error(
                400, "INVALID_REQUEST_PARAM", f"unknown query parameter {extra[0]!r}", extra[0]
            )
        return None

    def _list(self, query: dict[str, str]) -> Reply:
        if refused := self._only(query, ORDERS_QUERY):
            return refused
        limit = int(query.get("limit") or 100) if (query.get("limit") or "100").isdigit() else 0
        if not 1 <= limit <= 200:
            return _error(400, "INVALID_REQUEST_PARAM", "limit must be 1 to 200", "limit")
        bounds: dict[str, int] = {}
        for name in (
            "createdStartDate",
            "createdEndDate",
            "lastModifiedStartDate",
            "lastModifiedEndDate",
        ):
            if name in query:
                if not DATE.match(query[name]):
                    return _error(400, "INVALID_REQUEST_PARAM", f"{name} is not a date", name)
                bounds[name] = _date(query[name])
        if "createdStartDate" not in bounds and "purchaseOrderId" not in query:
            bounds["createdStartDate"] = _ms(datetime.now(UTC)) - 7 * 86_400_000  # the default
        if query.get("status") and query["status"] not in STATUSES:
            return _error(
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
            return _error(404, "CONTENT_NOT_FOUND.GMP_ORDER_API", "No order found")
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
            return _error(400, "INVALID_REQUEST_CONTENT.GMP_ORDER_API", "order is cancelled")
        now = _ms(datetime.now(UTC))
        for line in order["orderLines"]["orderLine"]:
            for entry in line["orderLineStatuses"]["orderLineStatus"]:
                if entry["status"] == "Created":
                    entry["status"], line["statusDate"] = "Acknowledged", now
        return 200, {"order": order}, {}

    def _ship(self, order: dict[str, Any], body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return _error(400, "INVALID_REQUEST_CONTENT", "body is not JSON")
        refused = _strict(payload, SHIPMENT_KEYS, "body") or _strict(
            payload["orderShipment"], SHIPMENT_ORDER_KEYS, "orderShipment"
        )
        if refused:
            return refused
        lines = {line["lineNumber"]: line for line in order["orderLines"]["orderLine"]}
        asked: dict[str, int] = {}
        tracking_number = ""
        for line in (payload["orderShipment"].get("orderLines") or {}).get("orderLine") or []:
            if refused := _strict(line, SHIPMENT_LINE_KEYS, "orderLine"):
                return refused
            number = str(line.get("lineNumber"))
            if number not in lines:
                return _error(
                    400, "INVALID_REQUEST_CONTENT", f"no order line {number}", "lineNumber"
                )
            for status in line["orderLineStatuses"]["orderLineStatus"]:
                tracking = status.get("trackingInfo") or {}
                refused = (
                    _strict(status, SHIPPED_STATUS_KEYS, "orderLineStatus")
                    or _strict(tracking, TRACKING_KEYS, "trackingInfo")
                    or _strict(
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
                    return _error(
                        400,
                        "INVALID_REQUEST_CONTENT",
                        "status Shipped with trackingNumber and carrierName required",
                    )
                tracking_number = tracking["trackingNumber"]
                asked[number] = asked.get(number, 0) + int(status["statusQuantity"]["amount"])
        for number, qty in asked.items():
            entries = lines[number]["orderLineStatuses"]["orderLineStatus"]
            if any(e["status"] == "Created" for e in entries):
                return _error(
                    400,
                    "INVALID_REQUEST_CONTENT",
                    f"line {number} is not acknowledged: acknowledge the order first",
                )
            left = sum(
                int(e["statusQuantity"]["amount"]) for e in entries if e["status"] == "Acknowledged"
            )
            if qty < 1 or qty > left:
                return _error(
                    400,
                    "INVALID_REQUEST_CONTENT",
                    f"line {number}: {qty} exceeds the {left} left to ship",
                )
        now = _ms(datetime.now(UTC))
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

    def _put(self, query: dict[str, str], body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return _error(400, "INVALID_REQUEST_CONTENT", "body is not JSON")
        refused = _strict(payload, INVENTORY_KEYS, "body") or _strict(
            payload.get("quantity"), QUANTITY_KEYS, "quantity"
        )
        if refused:
            return refused
        sku = query.get("sku", "")
        if payload["sku"] != sku or sku not in self.quantities:
            return _error(
                400,
                "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
                f"SKU {sku!r} is not an item of this seller",
                "sku",
            )
        amount = payload["quantity"].get("amount")
        if not isinstance(amount, int) or amount < 0 or payload["quantity"].get("unit") != "EACH":
            return _error(
                400,
                "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API",
                "quantity must be EACH, a whole number >= 0",
                "quantity",
            )
        self.quantities[sku] = amount
        return 200, payload, {}

    def _feed(self, query: dict[str, str], headers: Any, body: bytes) -> Reply:
        if query.get("feedType") != "inventory":
            return _error(
                400, "INVALID_REQUEST_PARAM", "feedType must be inventory here", "feedType"
            )
        head = f"Content-Type: {headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=email.policy.default).parsebytes(head + body)
        parts = (
            [
                p
                for p in message.iter_parts()
                if p.get_param("name", header="content-disposition") == "file"
            ]
            if message.is_multipart()
            else []
        )
        if len(parts) != 1:
            return _error(
                400,
                "INVALID_REQUEST_CONTENT",
                "multipart/form-data with one 'file' part required",
                "file",
            )
        try:
            doc = json.loads(bytes(parts[0].get_payload(decode=True) or b"null"))
        except ValueError:
            return _error(400, "INVALID_REQUEST_CONTENT", "the feed file is not JSON", "file")
        refused = _strict(doc, {"InventoryHeader", "Inventory"}, "feed") or next(
            (
                r
                for item in doc.get("Inventory") or []
                if (
                    r := _strict(item, INVENTORY_KEYS, "Inventory")
                    or _strict(item.get("quantity"), QUANTITY_KEYS, "quantity")
                )
            ),
            None,
        )
        if refused:
            return refused
        feed_id = f"F{next(self._ids):08X}@AU8BAQA"
        self.feeds[feed_id] = {
            "items": list(doc.get("Inventory") or []),
            "polls": 0,
            "results": None,
        }
        return 200, {"feedId": feed_id}, {}

    def _feed_status(self, feed_id: str, query: dict[str, str]) -> Reply:
        feed = self.feeds.get(unquote(feed_id))
        if feed is None:
            return _error(404, "CONTENT_NOT_FOUND.GMP_FEED_API", f"feed {feed_id} not found")
        limit, offset = int(query.get("limit") or 50), int(query.get("offset") or 0)
        if not 1 <= limit <= self.feed_detail_max:
            return _error(
                400, "INVALID_REQUEST_PARAM", f"limit must be 1 to {self.feed_detail_max}", "limit"
            )
        feed["polls"] += 1
        reply: dict[str, Any] = {
            "feedId": unquote(feed_id),
            "itemsReceived": len(feed["items"]),
            "offset": offset,
            "limit": limit,
        }
        if feed["polls"] <= self.feed_polls_in_progress:
            return (
                200,
                reply | {"feedStatus": "INPROGRESS", "itemsProcessing": len(feed["items"])},
                {},
            )
        if feed["results"] is None:
            feed["results"] = [self._ingest(i, item) for i, item in enumerate(feed["items"])]
        results = feed["results"]
        ok = sum(1 for r in results if r["ingestionStatus"] == "SUCCESS")
        reply |= {
            "feedStatus": "PROCESSED",
            "itemsSucceeded": ok,
            "itemsFailed": len(results) - ok,
            "itemsProcessing": 0,
        }
        if query.get("includeDetails") == "true":
            reply["itemDetails"] = {"itemIngestionStatus": results[offset : offset + limit]}
        return 200, reply, {}

    def _ingest(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        sku, amount = item.get("sku"), (item.get("quantity") or {}).get("amount")
        if sku not in self.quantities or not isinstance(amount, int) or amount < 0:
            error = {
                "type": "DATA_ERROR",
                "code": "ERR_EXT_DATA_0101",
                "description": f"SKU {sku!r} or its quantity is invalid",
            }
            return {
                "sku": sku,
                "index": index,
                "ingestionStatus": "DATA_ERROR",
                "ingestionErrors": {"ingestionError": [error]},
            }
        self.quantities[str(sku)] = amount
        return {"sku": sku, "index": index, "ingestionStatus": "SUCCESS"}


def walmart_connection_json(emulator: WalmartEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>`` pointing at the emulator."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "login": emulator.client_id,
            "password": emulator.client_secret,
            "extra": extra,
        }
    )

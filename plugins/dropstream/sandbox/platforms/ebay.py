"""A strict local emulator of eBay's OAuth token endpoint and Sell Fulfillment/Inventory APIs.

Real HTTP on 127.0.0.1 (ephemeral port). Token endpoint: HTTP Basic client credentials,
``grant_type=refresh_token``, short-lived user tokens. APIs: ``Authorization: Bearer`` with a
live token (401 ``errorId 1001`` otherwise), getOrders with eBay's ``filter`` syntax and offset
pagination (``limit`` above ``max_limit`` -> 400; the maximum is configurable because eBay's
documented cap is unconfirmed), shipping fulfillments (201 + ``Location``; quantities beyond
what remains -> 400), ``bulk_update_price_quantity`` (1..25 requests, per-SKU statuses, 207 on
partial failure), eBay error bodies ``{"errors":[{"errorId","message"}]}`` and 429s. A query
parameter or body field the API does not define is a 400 naming it (errorId 2004).

OAuth scopes: ``granted_scopes`` are those the seller consented to. A refresh request asking for
more is 400 ``invalid_scope`` (a ``….readonly`` scope is covered by its full scope); without a
``scope`` parameter the token gets every granted scope. A call the token's scopes do not cover
(reads take the ``.readonly`` scope too) is 403 errorId 1100 "Access denied".

Rate limits: eBay documents daily call quotas per application (getOrders, createShippingFulfillment
and bulkUpdatePriceQuantity each have their own) and no per-second rate; each resource here has a
token bucket holding a day's quota (``daily_quota``) that refills over the day, so a runaway loop
is answered 429 (errorId 2001) like the real quota, and a normal run never is. The default of
100,000 calls a day per resource is a placeholder, not checked against eBay's published call
limits (they depend on the application's tier): confirm before relying on it.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dropstream.sandbox.http import Reply
from dropstream.sandbox.strict import StrictEmulator, TokenBucket, unknown

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
FILTER_DATE = re.compile(r"^(creationdate|lastmodifieddate):\[([^\]]*)\]$")
FILTER_STATUS = re.compile(r"^orderfulfillmentstatus:\{([A-Z_|]+)\}$")
ORDER_PATH = re.compile(r"^/sell/fulfillment/v1/order/([^/]+)(/shipping_fulfillment)?$")
BULK_CAP = 25
#: Query parameters and body fields each endpoint defines (eBay API reference).
ORDERS_QUERY = {"filter", "limit", "offset", "orderIds", "fieldGroups"}
INVENTORY_ITEMS_QUERY = {"limit", "offset"}
FULFILLMENT_FIELDS = {"lineItems", "shippedDate", "shippingCarrierCode", "trackingNumber"}
FULFILLMENT_LINE_FIELDS = {"lineItemId", "quantity"}
BULK_FIELDS = {"requests"}
BULK_REQUEST_FIELDS = {"sku", "shipToLocationAvailability", "offers"}
#: Default daily call quotas per resource (eBay's application call limits).
DAILY_QUOTA = {"order": 100_000, "shipping_fulfillment": 100_000, "bulk": 100_000}
DAY = 86_400.0


API_SCOPE = "https://api.ebay.com/oauth/api_scope"
FULFILLMENT = API_SCOPE + "/sell.fulfillment"
INVENTORY = API_SCOPE + "/sell.inventory"
INVALID_SCOPE = (
    "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client"
)


def _covered(scope: str, granted: set[str] | frozenset[str]) -> bool:
    return scope in granted or scope.removesuffix(".readonly") in granted


def _error(status: int, error_id: int, message: str) -> Reply:
    category = "REQUEST" if status < 500 else "APPLICATION"
    return status, {"errors": [{"errorId": error_id, "category": category, "message": message}]}, {}


def _time(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class EbayEmulator(StrictEmulator):
    """The emulated seller account: seed it, point an adapter at ``url``, inspect it after."""

    raw_target = True
    content_type = "application/json"
    json_default = None

    def __init__(
        self,
        *,
        client_id: str = "DropStre-app-PRD-0123456789",
        client_secret: str = "PRD-secret-0123456789",
        refresh_token: str = "v^1.1#i^1#refresh-token",
        token_ttl: int = 7200,
        max_limit: int = 200,
        daily_quota: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
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
        self.tokens: set[str] = set()
        self.granted_scopes: set[str] = {API_SCOPE, FULFILLMENT, INVENTORY}
        self._token_scopes: dict[str, frozenset[str]] = {}
        self.throttled = 0
        self.quotas = {
            name: TokenBucket(quota, quota / DAY)
            for name, quota in (DAILY_QUOTA | (daily_quota or {})).items()
        }
        self._ids = itertools.count(1)

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        *,
        updated_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),  # (sku, qty, unit price)
        ship_to: dict[str, Any] | None = None,
        payment_status: str = "PAID",
        currency: str = "USD",
        shipping_service: str = "USPSPriority",
        digital: bool = False,
    ) -> str:
        """Seed an order; ``digital``: a digital gift card order (sent by e-mail, not shipped)."""
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
                    "fulfillmentInstructionsType": "DIGITAL" if digital else "SHIP_TO",
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

    def cancel_order(self, order_id: str, *, at: datetime) -> None:
        """The order is cancelled as eBay does it: ``cancelStatus.cancelState`` CANCELED with
        ``cancelledDate``, the payment refunded, ``lastModifiedDate`` ``at``. getOrders returns
        ``cancelRequests`` empty (only getOrder fills it in)."""
        order = self.orders[order_id]
        if order["cancelStatus"]["cancelState"] == "CANCELED":
            raise ValueError(f"eBay order {order_id} is cancelled already")
        if order["orderFulfillmentStatus"] == "FULFILLED":
            raise ValueError(f"eBay order {order_id} is FULFILLED: it cannot be cancelled")
        order["cancelStatus"] = {
            "cancelState": "CANCELED",
            "cancelledDate": _time(at),
            "cancelRequests": [],
        }
        order["orderPaymentStatus"] = "FULLY_REFUNDED"
        order["lastModifiedDate"] = _time(at)

    def add_listing(self, sku: str, quantity: int = 0) -> None:
        self.quantities[sku] = quantity

    def expire_tokens(self) -> None:
        """Revoke every access token issued so far: the next API call gets a 401."""
        self.tokens.clear()

    def calls(self, method: str, path_prefix: str) -> int:
        return sum(
            1 for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)
        )

    # --- request handling -------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        split = urlsplit(target)
        log: dict[str, Any] = {"method": method, "path": split.path, "query": split.query}
        query = parse_qs(split.query, keep_blank_values=True)
        return self.answer(log, lambda: self._route(method, split.path, query, headers, body))

    def crash_reply(self, exc: Exception) -> Reply:
        return _error(500, 10001, f"emulator crashed: {exc!r}")

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        if path == "/identity/v1/oauth2/token":
            return self._token(method, headers, body)
        if not path.startswith("/sell/"):
            return _error(404, 2002, "Resource not found")
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            return _error(401, 1001, "Invalid access token")
        scope = FULFILLMENT if path.startswith("/sell/fulfillment/") else INVENTORY
        needs = scope + ".readonly" if method == "GET" else scope
        if not _covered(needs, self._token_scopes.get(bearer, frozenset(self.granted_scopes))):
            return _error(403, 1100, "Access denied")
        if failure := self.next_failure():
            status = failure[0]
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
            return self._paid("order") or self._orders(method, query)
        if match := ORDER_PATH.match(path):
            order = self.orders.get(unquote(match[1]))
            if order is None:
                return _error(404, 32100, f"Invalid order ID: {unquote(match[1])}")
            if match[2] is None:
                if method != "GET":
                    return _error(405, 2005, "Not allowed")
                return self._strict(query, {"fieldGroups"}) or (200, order, {})
            return (
                self._paid("shipping_fulfillment")
                or self._strict(query, ())
                or self._shipping_fulfillment(method, order, payload)
            )
        if path == "/sell/inventory/v1/bulk_update_price_quantity" and method == "POST":
            return self._paid("bulk") or self._strict(query, ()) or self._bulk_quantity(payload)
        if path == "/sell/inventory/v1/inventory_item" and method == "GET":
            if refused := self._strict(query, INVENTORY_ITEMS_QUERY):
                return refused
            items = [{"sku": sku} for sku in sorted(self.quantities)]
            return 200, {"inventoryItems": items, "total": len(items)}, {}
        return _error(404, 2002, "Resource not found")

    def _paid(self, resource: str) -> Reply | None:
        """429 when the resource's daily call quota is spent (the call is not counted)."""
        if self.quotas[resource].take():
            return None
        self.throttled += 1
        return _error(429, 2001, "Too many requests. The request limit has been reached.")

    @staticmethod
    def _strict(query: dict[str, list[str]], allowed: Any) -> Reply | None:
        """400 naming a query parameter the endpoint does not define."""
        extra = unknown(query, allowed)
        if extra:
            return _error(400, 2004, f"Invalid request: unknown query parameter {extra[0]!r}")
        return None

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
        if extra := unknown(form, {"grant_type", "refresh_token", "scope"}):
            description = f"unknown parameter {extra[0]!r}"
            return 400, {"error": "invalid_request", "error_description": description}, {}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != (
            self.refresh_token
        ):
            description = "the provided authorization refresh token is invalid"
            return 400, {"error": "invalid_grant", "error_description": description}, {}
        requested = set((form.get("scope") or "").split()) or set(self.granted_scopes)
        if not all(_covered(scope, self.granted_scopes) for scope in requested):
            return 400, {"error": "invalid_scope", "error_description": INVALID_SCOPE}, {}
        token = f"v^1.1#i^1#access-{next(self._ids)}"
        self.tokens.add(token)
        self._token_scopes[token] = frozenset(requested)
        reply = {
            "access_token": token,
            "expires_in": self.token_ttl,
            "token_type": "User Access Token",
        }
        return 200, reply, {}

    def _orders(self, method: str, query: dict[str, list[str]]) -> Reply:
        if method != "GET":
            return _error(405, 2005, "Method not allowed")
        if refused := self._strict(query, ORDERS_QUERY):
            return refused
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
                checks.append(partial(_within_field, field=field, start=start, end=end))
            elif m := FILTER_STATUS.match(criterion):
                wanted = set(m[1].split("|"))
                if not wanted <= {"NOT_STARTED", "IN_PROGRESS", "FULFILLED"}:
                    return _error(400, 30800, f"Invalid fulfillment status in {criterion!r}")
                checks.append(partial(_status_in, wanted=wanted))
            else:
                return _error(400, 30800, f"Invalid filter criterion {criterion!r}")
        found = sorted(
            (o for o in self.orders.values() if all(check(o) for check in checks)),
            key=lambda o: (o["lastModifiedDate"], o["orderId"]),
        )
        reply: dict[str, Any] = {"total": len(found), "limit": limit, "offset": offset}
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
        if refused := _fields(payload, FULFILLMENT_FIELDS) or next(
            (r for line in payload["lineItems"] if (r := _fields(line, FULFILLMENT_LINE_FIELDS))),
            None,
        ):
            return refused
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
        checks = [_fields(payload, BULK_FIELDS)] + [
            _fields(r, BULK_REQUEST_FIELDS) for r in requests_
        ]
        if refused := next((r for r in checks if r), None):
            return refused
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


def _fields(payload: Any, allowed: set[str]) -> Reply | None:
    """400 naming a body field the API does not define (or an entry that is not an object)."""
    if not isinstance(payload, dict):
        return _error(400, 2004, f"Invalid request: expected an object, got {payload!r}")
    if extra := unknown(payload, allowed):
        return _error(400, 2004, f"Invalid request: unknown field {extra[0]!r}")
    return None


def _within_field(order: dict[str, Any], *, field: str, start: str, end: str) -> bool:
    return _within(order[field], start, end)


def _status_in(order: dict[str, Any], *, wanted: set[str]) -> bool:
    return order["orderFulfillmentStatus"] in wanted


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

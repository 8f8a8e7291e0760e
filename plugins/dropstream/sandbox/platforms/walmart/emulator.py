"""The Walmart emulator: keys, tokens, headers, access and rate limits around its APIs."""

from __future__ import annotations

import base64
import itertools
import json
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dropstream.sandbox.http import Reply
from dropstream.sandbox.platforms.walmart.inventory import InventoryApi
from dropstream.sandbox.platforms.walmart.orders import OrdersApi
from dropstream.sandbox.platforms.walmart.shapes import (
    CANCEL_REASONS,
    FEED_PATH,
    LIMITS,
    ORDER_PATH,
    error,
    ms,
    only,
)
from dropstream.sandbox.strict import StrictEmulator, TokenBucket, unknown


class WalmartEmulator(OrdersApi, InventoryApi, StrictEmulator):
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
        fulfillment_option: str = "S2H",
    ) -> str:
        """An order released to the seller; ``fulfillment_option`` is the lines'
        ``fulfillment.fulfillmentOption`` (``S2H`` ship to home, ``S2S`` ship to store: the
        seller ships both)."""
        n = next(self._ids)
        po = f"{1796277083000 + n}"
        self.orders[po] = {
            "purchaseOrderId": po,
            "customerOrderId": f"{5281956426000 + n}",
            "customerEmailId": f"{n:032X}@relay.walmart.com",
            "orderDate": ms(created_at or updated_at),
            "shippingInfo": {
                "phone": "3155598681",
                "estimatedDeliveryDate": ms(updated_at) + 5 * 86_400_000,
                "estimatedShipDate": ms(updated_at) + 86_400_000,
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
                        "statusDate": ms(updated_at),
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
                        "fulfillment": {
                            "fulfillmentOption": fulfillment_option,
                            "shipMethod": "STANDARD",
                        },
                    }
                    for i, (sku, qty, price) in enumerate(lines, start=1)
                ]
            },
        }
        return po

    def cancel_order(
        self,
        po: str,
        *,
        at: datetime,
        reason: str = "CUSTOMER_REQUESTED_SELLER_TO_CANCEL",
        lines: Sequence[str] | None = None,
    ) -> None:
        """Cancel the unshipped units of ``lines`` (line numbers; default every line), as
        ``POST /v3/orders/{po}/cancel`` does after a customer's request or the seller's
        decision: their status becomes ``Cancelled`` with ``cancellationReason``, the line's
        ``statusDate`` ``at``. A line with nothing left to ship cannot be cancelled."""
        if reason not in CANCEL_REASONS:
            raise ValueError(f"Walmart has no cancellationReason {reason!r}")
        for line in self.orders[po]["orderLines"]["orderLine"]:
            if lines is not None and line["lineNumber"] not in lines:
                continue
            entries = line["orderLineStatuses"]["orderLineStatus"]
            open_entries = [e for e in entries if e["status"] in ("Created", "Acknowledged")]
            if not open_entries:
                raise ValueError(f"Walmart order {po} line {line['lineNumber']}: nothing to cancel")
            for entry in open_entries:
                entry["status"], entry["cancellationReason"] = "Cancelled", reason
            line["statusDate"] = ms(at)

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
        return error(500, "INTERNAL_SERVER_ERROR", f"emulator crashed: {exc!r}")

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> Reply:
        missing = [h for h in ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID") if not headers.get(h)]
        if missing:
            return error(400, "INVALID_REQUEST_HEADER", f"missing header {missing[0]}", missing[0])
        client = self._basic_client(headers.get("Authorization", ""))
        if path == "/v3/token" and method == "POST":
            return self._metered("token", lambda: self._token(client, body))
        token = self.tokens.get(headers.get("WM_SEC.ACCESS_TOKEN", ""))
        if token is None or token[0] <= time.time():
            return error(401, "UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized")
        if client != token[1]:
            return error(401, "UNAUTHORIZED.GMP_GATEWAY_API", "Invalid client credentials")
        kind, area, write = self._classify(method, path)
        if kind is None:
            return error(404, "NOT_FOUND", f"no such resource: {method} {path}")
        level = self.clients[client][1].get(area, "no_access") if area else "full_access"
        if level == "no_access" or (write and level != "full_access"):
            return error(
                403,
                "FORBIDDEN.GMP_GATEWAY_API",
                f"no {'full' if write else 'view'} access to {area}",
            )
        if failure := self.next_failure():
            status = failure[0]
            return error(
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
        refill = ms(datetime.now(UTC)) + math.ceil(bucket.seconds_until(1.0) * 1000)
        meter = {"x-current-token-count": str(left), "x-next-replenishment-time": str(refill)}
        if not taken:
            self.throttled += 1
            status, payload, _ = error(429, "TOO_MANY_REQUESTS", "Too Many Requests")
            return status, payload, meter
        status, payload, extra = respond()
        return status, payload, {**meter, **extra}

    def _token(self, client: str, body: bytes) -> Reply:
        if not client:
            return error(401, "UNAUTHORIZED.GMP_GATEWAY_API", "invalid client credentials")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if extra := unknown(form, {"grant_type", "code", "redirect_uri", "refresh_token"}):
            return error(400, "INVALID_REQUEST_PARAM", f"unknown parameter {extra[0]!r}", extra[0])
        if form.get("grant_type") != "client_credentials":
            return error(400, "INVALID_REQUEST_PARAM", "grant_type must be client_credentials")
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
            return only(query, set()) or (200, {"is_valid": True, "scopes": scopes}, {})
        if kind == "orders":
            return self._list(query)
        if kind in ("order", "acknowledge", "shipping"):
            match = ORDER_PATH.match(path)
            assert match is not None
            order = self.orders.get(unquote(match[1]))
            if order is None:
                return error(404, "CONTENT_NOT_FOUND.GMP_ORDER_API", f"order {match[1]} not found")
            allowed = {"productInfo", "replacementInfo"} if kind == "order" else set()
            if refused := only(query, allowed):
                return refused
            if kind == "order":
                return 200, {"order": order}, {}
            if kind == "acknowledge":
                return self._acknowledge(order)
            return self._ship(order, body)
        if kind == "inventory":
            return only(query, {"sku", "shipNode"}) or self._put(query, body)
        if kind == "feeds":
            return only(query, {"feedType", "shipNode"}) or self._feed(query, headers, body)
        match = FEED_PATH.match(path)
        assert match is not None
        return only(query, {"includeDetails", "offset", "limit"}) or self._feed_status(
            match[1], query
        )


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

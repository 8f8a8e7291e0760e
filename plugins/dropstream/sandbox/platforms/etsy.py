"""A strict local emulator of Etsy's OAuth token endpoint and the Open API v3 calls DropStream
makes (facts and sources: docs/platforms.md).

Real HTTP on 127.0.0.1. Token endpoint ``POST /v3/public/oauth/token``: a form with
``grant_type=refresh_token``, ``client_id`` (the keystring) and ``refresh_token``; answers an
access token ``{user_id}.{random}`` that lives ``token_ttl`` seconds (Etsy: 3600) and remembers the
scopes the seller granted when it was minted (``granted_scopes``). Every ``/v3/application`` call
needs ``x-api-key: keystring:shared_secret`` (401 ``Invalid API key`` otherwise; the keystring
alone is 403 "Shared secret is required in x-api-key header") and, except ``tokenScopes``, a live
``Authorization: Bearer`` token (401 ``invalid_token``: "access token is expired" or "… is
invalid"). A call whose scope the token lacks is 403. Errors are Etsy's ``{"error": "…"}``.

Rate limits: a token bucket of ``per_second`` calls refilled at ``per_second`` a second and a
per-day counter (``per_day``; Etsy's sliding 24-hour window is modelled as a plain count, as no
test runs for a day). Every answered call carries ``x-limit-per-second``,
``x-remaining-this-second``, ``x-limit-per-day`` and ``x-remaining-today``; a call over either is
429 without them (as Etsy documents) and is counted in ``throttled``. Defaults are Etsy's for a
new app: 10 a second, 10,000 a day.

Strictness: a query parameter or JSON body field the endpoint does not define is 400 naming it;
``limit`` 1..100; booleans are ``true``/``false``; epoch filters are integers. Receipts: paid,
unshipped, cancelled flags (``cancel_order``: status Canceled, refunded in full, listed with
``was_canceled=true`` only); ``createReceiptShipment`` adds a shipment (several per receipt are
allowed) and marks the receipt shipped; the ``note_to_buyer`` is kept in ``notes`` (Etsy e-mails
it to the buyer). Listings: one inventory per listing, replaced whole by
``updateListingInventory``, which refuses Money objects as prices, read-only fields
(``product_id``, ``offering_id``, ``is_deleted``, ``scale_name``), a quantity over 999 and an
inventory whose every offering is 0 ("One offering must have quantity greater than 0").
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from dropstream.sandbox.http import Reply
from dropstream.sandbox.strict import StrictEmulator, TokenBucket, unknown

API = "/v3/application"
TOKEN_PATH = "/v3/public/oauth/token"
ALL_SCOPES = frozenset({"transactions_r", "transactions_w", "listings_r", "listings_w"})
READ_ONLY_SCOPES = frozenset({"transactions_r", "listings_r"})
RECEIPTS_QUERY = {
    "min_created", "max_created", "min_last_modified", "max_last_modified", "limit", "offset",
    "sort_on", "sort_order", "was_paid", "was_shipped", "was_delivered", "was_canceled", "legacy",
}  # fmt: skip
LISTINGS_QUERY = {"state", "limit", "offset", "sort_on", "sort_order", "includes", "legacy"}
TRACKING_FIELDS = {
    "tracking_code", "carrier_name", "send_bcc", "note_to_buyer", "mail_class", "weight",
    "weight_units", "length", "width", "height", "dimension_units", "shipping_label_cost",
    "shipping_label_currency", "revenue_eligibility", "ship_from_country", "ship_to_country",
    "incoterm", "customs_data", "duty_amount", "duty_currency", "ship_date",
}  # fmt: skip
INVENTORY_FIELDS = {
    "products", "price_on_property", "quantity_on_property", "sku_on_property",
    "readiness_state_on_property",
}  # fmt: skip
PRODUCT_FIELDS = {"sku", "property_values", "offerings"}
OFFERING_FIELDS = {"price", "quantity", "is_enabled", "readiness_state_id"}
PROPERTY_FIELDS = {"property_id", "value_ids", "scale_id", "property_name", "values"}
STATES = ("active", "inactive", "sold_out", "draft", "expired")
ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    # (method, path, handler, scope)
    ("GET", re.compile(rf"^{API}/shops/(\d+)/receipts$"), "_receipts", "transactions_r"),
    ("GET", re.compile(rf"^{API}/shops/(\d+)/receipts/(\d+)$"), "_receipt", "transactions_r"),
    (
        "POST",
        re.compile(rf"^{API}/shops/(\d+)/receipts/(\d+)/tracking$"),
        "_track",
        "transactions_w",
    ),
    ("GET", re.compile(rf"^{API}/shops/(\d+)/listings$"), "_listings", "listings_r"),
    ("PUT", re.compile(rf"^{API}/listings/(\d+)/inventory$"), "_inventory", "listings_w"),
]


def _error(status: int, message: str, **headers: str) -> Reply:
    return status, {"error": message}, dict(headers)


def _money(value: Decimal, currency: str = "USD") -> dict[str, Any]:
    return {"amount": int(value * 100), "divisor": 100, "currency_code": currency}


class EtsyEmulator(StrictEmulator):
    """One emulated Etsy shop: seed receipts and listings, point an adapter at ``url``."""

    def __init__(
        self,
        *,
        keystring: str = "1aa2bb33c44d55eeeeee6fff",
        shared_secret: str = "s3cr3tsh4r3d",
        refresh_token: str = "12345678.JNGIJtvLmwfDMhlYoOJl8aLR1BWottyHC6yhNcET",
        shop_id: int = 31415926,
        user_id: int = 12345678,
        token_ttl: int = 3600,
        per_second: int = 10,
        per_day: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.keystring, self.shared_secret, self.refresh_token = (
            keystring,
            shared_secret,
            refresh_token,
        )
        self.shop_id, self.user_id, self.token_ttl, self.clock = shop_id, user_id, token_ttl, clock
        self.granted_scopes: set[str] = set(ALL_SCOPES)
        self.tokens: dict[str, tuple[float, frozenset[str]]] = {}  # token -> (expiry, scopes)
        self.receipts: dict[int, dict[str, Any]] = {}
        self.listings: dict[int, dict[str, Any]] = {}
        self.notes: dict[str, str] = {}  # tracking code -> note_to_buyer
        self.per_second, self.per_day, self.used_today, self.throttled = per_second, per_day, 0, 0
        self.second = TokenBucket(per_second, per_second, clock)
        self._ids = itertools.count(1)

    # --- seeding and inspection -------------------------------------------------------------
    def add_receipt(
        self,
        *,
        updated_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),
        address: dict[str, str] | None = None,
        paid: bool = True,
        shipped: bool = False,
        canceled: bool = False,
        currency: str = "USD",
        digital_skus: Collection[str] = (),
    ) -> int:
        """Seed a receipt; lines of ``digital_skus`` are digital listings (nothing to ship)."""
        receipt_id = 3_000_000_000 + next(self._ids)
        created = int((created_at or updated_at).timestamp())
        transactions = [
            {
                "transaction_id": 4_000_000_000 + next(self._ids),
                "title": f"Item {sku}",
                "receipt_id": receipt_id,
                "listing_id": None,
                "product_id": None,
                "sku": sku,
                "quantity": qty,
                "is_digital": sku in digital_skus,
                "price": _money(Decimal(price), currency),
                "shipping_cost": _money(Decimal("0"), currency),
                "shipping_method": "Standard Shipping",
                "shipping_upgrade": None,
                "created_timestamp": created,
            }
            for sku, qty, price in lines
        ]
        where: dict[str, Any] = address or {
            "name": "Ada Buyer", "first_line": "1 Main St", "second_line": None,
            "city": "Springfield", "state": "OR", "zip": "97477", "country_iso": "US",
        }  # fmt: skip
        self.receipts[receipt_id] = {
            "receipt_id": receipt_id,
            "receipt_type": 0,
            "seller_user_id": self.user_id,
            "buyer_user_id": 900 + receipt_id % 1000,
            "buyer_email": f"buyer{receipt_id % 1000}@example.com",
            **where,
            "status": "Canceled" if canceled else ("Paid" if paid else "Payment Processing"),
            "message_from_buyer": "",
            "is_paid": paid,
            "is_shipped": shipped,
            "created_timestamp": created,
            "create_timestamp": created,
            "updated_timestamp": int(updated_at.timestamp()),
            "update_timestamp": int(updated_at.timestamp()),
            "grandtotal": _money(sum((Decimal(p) * q for _, q, p in lines), Decimal(0)), currency),
            "shipments": [],
            "transactions": transactions,
            "refunds": [],
            "_canceled": canceled,
        }
        return receipt_id

    def cancel_order(self, receipt_id: int, *, at: datetime, reason: str = "") -> None:
        """The seller cancels the receipt: ``status`` Canceled, the buyer refunded in full (a
        ShopRefund with ``reason``), ``updated_timestamp`` ``at``. It then leaves the
        ``was_canceled=false`` listings and is in the ``was_canceled=true`` ones. A shipped
        receipt is refused (the emulator's rule: its buyer is refunded, not the order cancelled)."""
        receipt = self.receipts[int(receipt_id)]
        if receipt["_canceled"]:
            raise ValueError(f"Etsy receipt {receipt_id} is canceled already")
        if receipt["is_shipped"]:
            raise ValueError(f"Etsy receipt {receipt_id} is shipped: it cannot be canceled")
        stamp = int(at.timestamp())
        receipt["refunds"].append({"amount": receipt["grandtotal"], "created_timestamp": stamp,
                                   "reason": reason or None, "note_from_issuer": None,
                                   "status": None})  # fmt: skip
        receipt["status"], receipt["_canceled"] = "Canceled", True
        receipt["updated_timestamp"] = receipt["update_timestamp"] = stamp

    def add_listing(self, skus: Sequence[tuple[str, int]], price: str = "10.00") -> int:
        """A listing of one product per (sku, quantity); ``sold_out`` when every quantity is 0."""
        listing_id = 1_000_000_000 + next(self._ids)
        products = [
            {
                "product_id": 2_000_000_000 + next(self._ids),
                "sku": sku,
                "is_deleted": False,
                "offerings": [
                    {
                        "offering_id": 5_000_000_000 + next(self._ids),
                        "quantity": qty,
                        "is_enabled": True,
                        "is_deleted": False,
                        "price": _money(Decimal(price)),
                    }
                ],
                "property_values": (
                    [
                        {
                            "property_id": 200,
                            "property_name": "Primary color",
                            "scale_id": None,
                            "scale_name": None,
                            "value_ids": [n + 1],
                            "values": [f"Colour {n + 1}"],
                        }
                    ]
                    if len(skus) > 1
                    else []
                ),  # fmt: skip
            }
            for n, (sku, qty) in enumerate(skus)
        ]
        self.listings[listing_id] = {
            "listing_id": listing_id,
            "shop_id": self.shop_id,
            "title": f"Listing {skus[0][0]}",
            "state": "active" if any(q for _, q in skus) else "sold_out",
            "quantity": sum(q for _, q in skus),
            "skus": [sku for sku, _ in skus],
            "_inventory": {
                "products": products,
                "price_on_property": [],
                "quantity_on_property": [200] if len(skus) > 1 else [],
                "sku_on_property": [200] if len(skus) > 1 else [],
            },
        }
        return listing_id

    def quantity(self, sku: str) -> int | None:
        for listing in self.listings.values():
            for product in listing["_inventory"]["products"]:
                if product["sku"] == sku:
                    return sum(o["quantity"] for o in product["offerings"])
        return None

    def expire_tokens(self) -> None:
        """Every access token issued so far is past its lifetime: the next call gets a 401."""
        self.tokens = {token: (0.0, scopes) for token, (_, scopes) in self.tokens.items()}

    def calls(self, method: str, pattern: str) -> int:
        return sum(
            1 for r in self.requests if r["method"] == method and re.fullmatch(pattern, r["path"])
        )

    # --- request handling -------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        log: dict[str, Any] = {"method": method, "path": path, "query": query}
        return self.answer(log, lambda: self._route(method, path, query, headers, body, log))

    def crash_reply(self, exc: Exception) -> Reply:
        return _error(500, f"Server Error: emulator crashed: {exc!r}")

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
        log: dict[str, Any],
    ) -> Reply:
        if path == TOKEN_PATH:
            return self._token(method, headers, body)
        if not path.startswith(API + "/"):
            return _error(404, "Resource not found")
        key = headers.get("x-api-key") or ""
        if key == self.keystring:
            return _error(403, "Shared secret is required in x-api-key header")
        if key != f"{self.keystring}:{self.shared_secret}":
            return _error(401, "Invalid API key")
        if not self.second.take():  # QPS first, then QPD (Etsy evaluates them in that order)
            self.throttled += 1
            return _error(429, "You have exceeded your quota of requests per second")
        if self.used_today >= self.per_day:
            self.throttled += 1
            return _error(429, "You have exceeded your quota of requests per day")
        self.used_today += 1
        status, payload, extra = self._api(method, path, query, headers, body)
        return status, payload, extra | self._limits()

    def _limits(self) -> dict[str, str]:
        return {
            "x-limit-per-second": str(self.per_second),
            "x-remaining-this-second": str(int(self.second.available)),
            "x-limit-per-day": str(self.per_day),
            "x-remaining-today": str(max(self.per_day - self.used_today, 0)),
        }

    def _api(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        if path == f"{API}/scopes" and method == "POST":
            return self._scopes(headers, body)
        bearer = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if bearer not in self.tokens:
            return (
                401,
                {"error": "invalid_token", "error_description": "access token is invalid"},
                {},
            )
        expires, scopes = self.tokens[bearer]
        if self.clock() >= expires:
            return (
                401,
                {"error": "invalid_token", "error_description": "access token is expired"},
                {},
            )
        for route_method, pattern, handler, scope in ROUTES:
            if not (match := pattern.match(path)):
                continue
            if method != route_method:
                return _error(405, f"Method {method} not allowed")
            if scope not in scopes:
                return _error(403, f"The access token lacks the scope {scope} this call needs")
            if failure := self.next_failure():
                return _error(
                    failure[0], "Server Error" if failure[0] >= 500 else "Too many requests"
                )
            if path.startswith(f"{API}/shops/") and int(match[1]) != self.shop_id:
                return _error(403, f"Shop {match[1]} does not belong to the token's user")
            payload = None
            if method in ("POST", "PUT"):
                try:
                    payload = _body(headers, body)
                except ValueError as exc:
                    return _error(400, str(exc))
            return getattr(self, handler)(match, {k: v[-1] for k, v in query.items()}, payload)
        return _error(404, "Resource not found")

    def _token(self, method: str, headers: Any, body: bytes) -> Reply:
        if method != "POST" or "application/x-www-form-urlencoded" not in (
            headers.get("Content-Type") or ""
        ):
            return 400, {"error": "invalid_request", "error_description": "POST a form"}, {}
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if extra := unknown(form, {"grant_type", "client_id", "refresh_token"}):
            return (
                400,
                {"error": "invalid_request", "error_description": f"unknown parameter {extra[0]}"},
                {},
            )
        if form.get("client_id") != self.keystring:
            return 401, {"error": "invalid_client", "error_description": "Invalid API key"}, {}
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
        ):
            return (
                400,
                {"error": "invalid_grant", "error_description": "refresh_token is invalid"},
                {},
            )
        token = f"{self.user_id}.{secrets.token_urlsafe(24)}"
        self.tokens[token] = (self.clock() + self.token_ttl, frozenset(self.granted_scopes))
        reply = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl,
                 "refresh_token": self.refresh_token}  # fmt: skip
        return 200, reply, {}

    def _scopes(self, headers: Any, body: bytes) -> Reply:
        try:
            form = _body(headers, body)
        except ValueError as exc:
            return _error(400, str(exc))
        if not isinstance(form, dict) or unknown(form, {"token"}) or "token" not in form:
            return _error(400, "Expected a form with the field token only")
        expires, scopes = self.tokens.get(str(form["token"]), (0.0, frozenset()))
        return 200, {"scopes": sorted(scopes) if self.clock() < expires else []}, {}

    # --- receipts ---------------------------------------------------------------------------
    def _receipts(self, match: re.Match[str], q: dict[str, str], payload: Any) -> Reply:
        if refused := _strict(q, RECEIPTS_QUERY):
            return refused
        try:
            limit, offset = int(q.get("limit", "25")), int(q.get("offset", "0"))
            bounds = {
                k: int(q[k])
                for k in ("min_created", "max_created", "min_last_modified", "max_last_modified")
                if k in q
            }
            flags = {
                k: _bool(q[k])
                for k in ("was_paid", "was_shipped", "was_delivered", "was_canceled")
                if k in q
            }
        except ValueError as exc:
            return _error(400, f"Invalid parameter: {exc}")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "limit must be between 1 and 100, offset at least 0")
        if q.get("sort_on", "created") not in ("created", "updated", "receipt_id"):
            return _error(400, f"Invalid value for sort_on: {q['sort_on']}")
        found = [r for r in self.receipts.values() if _matches(r, bounds, flags)]
        field = {"created": "created_timestamp", "updated": "updated_timestamp"}.get(
            q.get("sort_on", "created"), "receipt_id"
        )
        found.sort(
            key=lambda r: (r[field], r["receipt_id"]),
            reverse=q.get("sort_order", "desc") in ("desc", "descending", "down"),
        )
        page = [_public(r) for r in found[offset : offset + limit]]
        return 200, {"count": len(found), "results": page}, {}

    def _receipt(self, match: re.Match[str], q: dict[str, str], payload: Any) -> Reply:
        receipt = self.receipts.get(int(match[2]))
        if refused := _strict(q, {"legacy"}):
            return refused
        return (
            (200, _public(receipt), {}) if receipt else _error(404, f"Receipt {match[2]} not found")
        )

    def _track(self, match: re.Match[str], q: dict[str, str], payload: Any) -> Reply:
        receipt = self.receipts.get(int(match[2]))
        if receipt is None:
            return _error(404, f"Receipt {match[2]} not found")
        if refused := _strict(q, {"legacy"}) or _fields(payload, TRACKING_FIELDS):
            return refused
        code, carrier = payload.get("tracking_code"), payload.get("carrier_name")
        if not (isinstance(code, str) and code and isinstance(carrier, str) and carrier):
            return _error(400, "tracking_code and carrier_name are required")
        receipt["shipments"].append({
            "receipt_shipping_id": 6_000_000_000 + next(self._ids),
            "shipment_notification_timestamp": int(time.time()),
            "carrier_name": carrier,
            "tracking_code": code,
        })  # fmt: skip
        if note := payload.get("note_to_buyer"):
            self.notes[code] = str(note)
        receipt["is_shipped"] = True
        receipt["status"] = "Completed"
        receipt["updated_timestamp"] = receipt["update_timestamp"] = int(time.time())
        return 200, _public(receipt), {}

    # --- listings ---------------------------------------------------------------------------
    def _listings(self, match: re.Match[str], q: dict[str, str], payload: Any) -> Reply:
        if refused := _strict(q, LISTINGS_QUERY):
            return refused
        state = q.get("state", "active")
        includes = set(filter(None, q.get("includes", "").split(",")))
        if state not in STATES or not includes <= {
            "Shipping",
            "Images",
            "Shop",
            "User",
            "Translations",
            "Inventory",
            "Videos",
        }:
            return _error(400, f"Invalid value for state or includes: {state!r} {sorted(includes)}")
        try:
            limit, offset = int(q.get("limit", "25")), int(q.get("offset", "0"))
        except ValueError as exc:
            return _error(400, f"Invalid parameter: {exc}")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "limit must be between 1 and 100, offset at least 0")
        found = sorted(
            (x for x in self.listings.values() if x["state"] == state),
            key=lambda x: x["listing_id"],
        )
        page = []
        for listing in found[offset : offset + limit]:
            shown = {k: v for k, v in listing.items() if not k.startswith("_")}
            if "Inventory" in includes:
                shown["inventory"] = json.loads(json.dumps(listing["_inventory"]))
            page.append(shown)
        return 200, {"count": len(found), "results": page}, {}

    def _inventory(self, match: re.Match[str], q: dict[str, str], payload: Any) -> Reply:
        listing = self.listings.get(int(match[1]))
        if listing is None or listing["shop_id"] != self.shop_id:
            return _error(404, f"Listing {match[1]} not found")
        if refused := _strict(q, {"legacy", "max_variations_supported"}) or _inventory_problem(
            payload
        ):
            return refused
        products: list[dict[str, Any]] = []
        for product in payload["products"]:
            offerings = [
                {"offering_id": 5_000_000_000 + next(self._ids), "quantity": o["quantity"],
                 "is_enabled": o.get("is_enabled", True), "is_deleted": False,
                 "price": _money(Decimal(str(o["price"])))}
                for o in product["offerings"]
            ]  # fmt: skip
            values = [v | {"scale_name": None} for v in product.get("property_values") or []]
            products.append({
                "product_id": 2_000_000_000 + next(self._ids), "sku": product.get("sku") or "",
                "is_deleted": False, "offerings": offerings, "property_values": values,
            })  # fmt: skip
        listing["_inventory"] = {
            k: payload.get(k) or [] for k in INVENTORY_FIELDS if k != "products"
        } | {"products": products}
        listing["quantity"] = sum(o["quantity"] for p in products for o in p["offerings"])
        listing["skus"] = [p["sku"] for p in products]
        # A sold-out listing stays sold out when restocked (etsy/open-api#247): renewing it is
        # the seller's (paid) action on Etsy.
        return 200, listing["_inventory"], {}


# --- validation helpers ---------------------------------------------------------------------
def _body(headers: Any, body: bytes) -> Any:
    kind = headers.get("Content-Type") or ""
    if "application/json" in kind:
        try:
            return json.loads(body or b"null")
        except ValueError:
            raise ValueError("The request body is not valid JSON") from None
    if "application/x-www-form-urlencoded" in kind:
        return {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    raise ValueError(f"Unsupported Content-Type {kind!r}")


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(f"expected true or false, got {value!r}")
    return value == "true"


def _strict(q: dict[str, str], allowed: set[str]) -> Reply | None:
    extra = unknown(q, allowed)
    return _error(400, f"Unexpected query parameter: {extra[0]}") if extra else None


def _fields(payload: Any, allowed: set[str]) -> Reply | None:
    if not isinstance(payload, dict):
        return _error(400, f"Expected an object, got {payload!r}")
    extra = unknown(payload, allowed)
    return _error(400, f"Unexpected field: {extra[0]}") if extra else None


def _inventory_problem(payload: Any) -> Reply | None:
    if refused := _fields(payload, INVENTORY_FIELDS):
        return refused
    products = payload.get("products")
    if not isinstance(products, list) or not products:
        return _error(400, "Missing input parameter: products")
    for product in products:
        if refused := _fields(product, PRODUCT_FIELDS):
            return refused
        for value in product.get("property_values") or []:
            if refused := _fields(value, PROPERTY_FIELDS):
                return refused
        if not product.get("offerings"):
            return _error(400, "Each product needs offerings")
        for offering in product["offerings"]:
            if refused := _fields(offering, OFFERING_FIELDS):
                return refused
            if not isinstance(offering.get("price"), (int, float)) or isinstance(
                offering.get("price"), bool
            ):
                return _error(400, "Expected type float for price")
            quantity = offering.get("quantity")
            if not isinstance(quantity, int) or not 0 <= quantity <= 999:
                return _error(400, "quantity must be an integer between 0 and 999")
    if not any(
        o["quantity"] for p in products for o in p["offerings"] if o.get("is_enabled", True)
    ):
        return _error(400, "One offering must have quantity greater than 0")
    return None


def _matches(receipt: dict[str, Any], bounds: dict[Any, int], flags: dict[Any, bool]) -> bool:
    fields = {"created": "created_timestamp", "last_modified": "updated_timestamp"}
    for name, value in bounds.items():
        side, _, what = name.partition("_")
        stamp = receipt[fields[what]]
        if (side == "min" and stamp < value) or (side == "max" and stamp > value):
            return False
    state = {"was_paid": receipt["is_paid"], "was_shipped": receipt["is_shipped"],
             "was_delivered": False, "was_canceled": receipt["_canceled"]}  # fmt: skip
    return all(state[k] == v for k, v in flags.items())


def _public(receipt: dict[str, Any] | None) -> dict[str, Any] | None:
    return (
        None
        if receipt is None
        else json.loads(json.dumps({k: v for k, v in receipt.items() if not k.startswith("_")}))
    )


def etsy_connection_json(emulator: EtsyEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>`` pointing at the emulator."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "login": emulator.keystring,
            "password": emulator.shared_secret,
            "extra": {
                "refresh_token": emulator.refresh_token,
                "shop_id": str(emulator.shop_id),
                **extra,
            },
        }
    )

"""A strict local emulator of the BigCommerce v2 orders/shipments and v3 inventory APIs.

Paths under ``/stores/{store_hash}``; ``X-Auth-Token`` and ``Accept: application/json``
required; ``limit`` ≤ 250; a page past the end (or an empty list) is ``204 No Content``;
``min_/max_date_modified`` and ``min_/max_date_created`` inclusive (ISO 8601 or RFC 2822); shipments
validated against the order's addresses and unshipped quantities; absolute inventory
adjustments ≤ 2000 items, an unknown SKU fails the whole request with 422 naming the item;
wrong methods are 405. A per-store request quota over a time window sends the
``X-Rate-Limit-*`` headers on every response and 429 when spent (BigCommerce documents 150 or 450
requests per 30 s by plan; ``quota=`` sets it, the default is generous so tests run fast). A
query parameter or body field the endpoint does not define is a 400 naming it (v2: ``[{status,
message}]``; v3: ``{status, title, errors}``). ``scopes`` are the API account's OAuth scopes
(``store_v2_orders``, ``store_inventory``, ``store_v2_information``, each also as ``…_read_only``);
a route whose scope the token lacks (a read-only scope allows GET only) is 403 "You don't have a
required scope to access the endpoint", checked before the request is validated.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from itertools import count
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.platforms.bc_webhooks import StoreHooks
from dropstream.sandbox.strict import StrictEmulator, unknown

MAX_LIMIT = 250
MAX_ADJUSTMENTS = 2000
#: Query parameters each route defines (those the emulator models), and body fields.
ORDERS_QUERY = {
    "status_id", "min_date_modified", "max_date_modified", "min_date_created",
    "max_date_created", "sort", "page", "limit",
}  # fmt: skip
PAGE_QUERY = {"page", "limit"}
SHIPMENT_FIELDS = {
    "order_address_id", "items", "tracking_number", "shipping_method", "shipping_provider",
    "tracking_carrier", "tracking_link", "comments",
}  # fmt: skip
SHIPMENT_ITEM_FIELDS = {"order_product_id", "quantity", "product_id"}
ADJUSTMENT_FIELDS = {"reason", "items"}
ADJUSTMENT_ITEM_FIELDS = {"location_id", "sku", "variant_id", "product_id", "quantity"}
FULL_SCOPES = frozenset({"store_v2_orders", "store_inventory", "store_v2_information"})
SCOPE_DENIED = "You don't have a required scope to access the endpoint"
STATUS = {
    11: "Awaiting Fulfillment", 2: "Shipped", 3: "Partially Shipped", 10: "Completed",
    5: "Cancelled", 4: "Refunded",
}  # fmt: skip


def rfc2822(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0))


def _v2_error(status: int, message: str) -> Reply:
    return status, [{"status": status, "message": message}], {}


def _v3_error(status: int, title: str, errors: dict[str, str] | None = None) -> Reply:
    return (
        status,
        {
            "status": status,
            "title": title,
            "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
            "errors": errors or {},
        },
        {},
    )


def _parse_date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = parsedate_to_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class BigCommerceEmulator(StrictEmulator):
    """The emulated store: seed it, point an adapter at ``host`` with ``token``."""

    def __init__(
        self,
        *,
        quota: int = 10_000,
        window_ms: int = 30_000,
        webhook_time_scale: float = 1.0,
        allow_http_webhooks: bool = False,
    ) -> None:
        super().__init__()
        self.store_hash = "abc123"
        self.hooks = StoreHooks(
            self.store_hash, time_scale=webhook_time_scale, allow_http=allow_http_webhooks
        )
        self.token = "bc_emulator_token"
        self.orders: dict[int, dict[str, Any]] = {}
        self.products: dict[int, list[dict[str, Any]]] = {}
        self.addresses: dict[int, list[dict[str, Any]]] = {}
        self.shipments: dict[int, list[dict[str, Any]]] = {}
        self.stock: dict[str, int] = {}  # SKU -> quantity at location 1
        self.locations = {1}
        self.scopes: set[str] = set(FULL_SCOPES)
        self.throttled = 0
        self._ids = count(100)
        self.rate_limit(quota, window_ms)

    def stop(self) -> None:
        self.hooks.sender.stop()
        super().stop()

    @property
    def host(self) -> str:
        return f"{self.url}/stores/{self.store_hash}"

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        *,
        modified_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),  # (sku, qty, unit price)
        status_id: int = 11,
        address: dict[str, Any] | None = None,
        addresses: int = 1,
        currency: str = "USD",
        digital_skus: Collection[str] = (),
    ) -> int:
        """Seed an order; lines of ``digital_skus`` are digital products (nothing to ship)."""
        order_id = next(self._ids)
        base = address or {
            "first_name": "Ada",
            "last_name": "Buyer",
            "company": "",
            "street_1": "1 Main St",
            "street_2": "",
            "city": "Springfield",
            "state": "Oregon",
            "zip": "97477",
            "country": "United States",
            "country_iso2": "US",
            "phone": "",
            "email": "buyer@example.com",
            "shipping_method": "Flat Rate",
        }
        self.addresses[order_id] = [
            {"id": next(self._ids), "order_id": order_id, **base} for _ in range(addresses)
        ]
        first_address = self.addresses[order_id][0]["id"]
        self.products[order_id] = [
            {
                "id": next(self._ids),
                "order_id": order_id,
                "sku": sku,
                "type": "digital" if sku in digital_skus else "physical",
                "quantity": qty,
                "quantity_shipped": 0,
                "price_ex_tax": f"{Decimal(price):.4f}",
                "price_inc_tax": f"{Decimal(price):.4f}",
                "order_address_id": first_address,
            }
            for sku, qty, price in lines
        ]
        self.shipments[order_id] = []
        self.orders[order_id] = {
            "id": order_id,
            "status_id": status_id,
            "status": STATUS.get(status_id, "Other"),
            "date_created": rfc2822(created_at or modified_at),
            "date_modified": rfc2822(modified_at),
            "currency_code": currency,
            "payment_status": "captured",
            "customer_message": "",
            "billing_address": {**base, "email": "buyer@example.com"},
            "products": {
                "url": f"{self.host}/v2/orders/{order_id}/products",
                "resource": f"/orders/{order_id}/products",
            },
        }
        self.hooks.order_event("store/order/created", order_id, int(time.time()))
        return order_id

    def cancel_order(self, order_id: int, *, at: datetime) -> None:
        """The merchant cancels the order (status_id 5, Cancelled): ``date_modified`` moves to
        ``at``. An order with shipments cannot be cancelled (BigCommerce refuses too)."""
        order = self.orders[order_id]
        if order["status_id"] == 5:
            raise ValueError(f"BigCommerce order {order_id} is cancelled already")
        if self.shipments[order_id]:
            raise ValueError(f"BigCommerce order {order_id} has shipments: it cannot be cancelled")
        previous = order["status_id"]
        order["status_id"], order["status"] = 5, STATUS[5]
        order["date_modified"] = rfc2822(at)
        status = {"previous_status_id": previous, "new_status_id": 5}
        self.hooks.order_event("store/order/statusUpdated", order_id, int(at.timestamp()), status)

    def add_product(self, sku: str, stock: int = 0) -> None:
        self.stock[sku] = stock

    def rate_limit(self, quota: int, window_ms: int) -> None:
        self.quota, self.window_ms = quota, window_ms
        self._left, self._window_start = quota, time.monotonic()

    def throttle_next(self, n: int = 1, reset_ms: int = 50) -> None:
        self._failures.extend(
            [
                (
                    429,
                    {
                        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
                        "X-Rate-Limit-Requests-Left": "0",
                    },
                )
            ]
            * n
        )

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        super().fail_next(n, status)

    def calls(self, method: str, pattern: str) -> int:
        return sum(
            1
            for r in self.requests
            if r["method"] == method and re.fullmatch(pattern, r["path"]) and r["status"] < 429
        )

    # --- request handling -------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        log: dict[str, Any] = {"method": method, "path": path, "query": query}
        return self.answer(log, lambda: self._handle(method, path, query, headers, body, log))

    def crash_reply(self, exc: Exception) -> Reply:
        return 500, {"status": 500, "title": f"emulator crashed: {exc!r}"}, {}

    def _rate(self) -> dict[str, str]:
        now = time.monotonic()
        elapsed_ms = (now - self._window_start) * 1000
        if elapsed_ms >= self.window_ms:
            self._left, self._window_start, elapsed_ms = self.quota, now, 0
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(max(int(self.window_ms - elapsed_ms), 1)),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self._left),
        }

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
        log: dict[str, Any],
    ) -> Reply:
        prefix = f"/stores/{self.store_hash}"
        if not path.startswith(prefix + "/"):
            return _v2_error(404, "The requested resource was not found.")
        path = path[len(prefix) :]
        v3 = path.startswith("/v3/")
        if headers.get("X-Auth-Token") != self.token:
            return (
                _v3_error(401, "No valid credentials were found in this request")
                if v3
                else _v2_error(401, "You are not authorized to access this resource.")
            )
        rate = self._rate()
        if self._left <= 0:
            self.throttled += 1
            return 429, {"status": 429, "title": "Too many requests"}, rate
        if failure := self.next_failure():
            status, extra = failure
            if status == 429:
                self.throttled += 1
            return status, {"status": status, "title": "Injected failure"}, rate | extra
        self._left -= 1
        rate["X-Rate-Limit-Requests-Left"] = str(self._left)
        if "application/json" not in (headers.get("Accept") or ""):
            return 406, [{"status": 406, "message": "Accept must be application/json"}], rate
        data: Any = None
        if method in ("POST", "PUT"):
            if "application/json" not in (headers.get("Content-Type") or ""):
                return 415, [{"status": 415, "message": "Unsupported Media Type"}], rate
            try:
                data = json.loads(body or b"null")
            except ValueError:
                return 400, [{"status": 400, "message": "The request body is invalid JSON."}], rate
        log["body"] = data
        q = {k: v[-1] for k, v in query.items()}
        if not self._granted(method, path):
            if v3:
                return *_v3_error(403, SCOPE_DENIED)[:2], rate
            return *_v2_error(403, SCOPE_DENIED)[:2], rate
        routes: list[tuple[str, dict[str, Any], set[str]]] = [  # pattern, handlers, query
            (r"/v2/store", {"GET": self._store}, set()),
            (r"/v2/orders", {"GET": self._list_orders}, ORDERS_QUERY),
            (r"/v2/orders/(\d+)/products", {"GET": self._list_products}, PAGE_QUERY),
            (r"/v2/orders/(\d+)/shipping_addresses", {"GET": self._list_addresses}, PAGE_QUERY),
            (
                r"/v2/orders/(\d+)/shipments",
                {"GET": self._list_shipments, "POST": self._add_shipment},
                PAGE_QUERY,
            ),
            (r"/v3/inventory/adjustments/absolute", {"PUT": self._absolute}, set()),
            (r"/v3/hooks", {"GET": self.hooks.list, "POST": self.hooks.create}, PAGE_QUERY),
            (r"/v3/hooks/(\d+)", {"GET": self.hooks.get, "DELETE": self.hooks.delete}, set()),
        ]
        for pattern, handlers, defined in routes:
            match = re.fullmatch(pattern, path)
            if match:
                if method not in handlers:
                    return 405, [{"status": 405, "message": "Method Not Allowed"}], rate
                if extra_names := unknown(query, defined if method == "GET" else ()):
                    message = f"The query parameter '{extra_names[0]}' is not supported."
                    if v3:
                        return *_v3_error(400, message)[:2], rate
                    return *_v2_error(400, message)[:2], rate
                status, payload, extra = handlers[method](
                    q, data, *(int(g) for g in match.groups())
                )
                return status, payload, rate | extra
        return *_v2_error(404, "The requested resource was not found.")[:2], rate

    def _granted(self, method: str, path: str) -> bool:
        if path.startswith("/v3/hooks"):  # order hooks need (at least read-only) orders access
            return bool({"store_v2_orders", "store_v2_orders_read_only"} & self.scopes)
        scope = (
            "store_inventory"
            if path.startswith("/v3/inventory")
            else "store_v2_orders"
            if path.startswith("/v2/orders")
            else "store_v2_information"
        )
        return scope in self.scopes or (method == "GET" and f"{scope}_read_only" in self.scopes)

    def _page(self, items: list[Any], q: dict[str, str]) -> Reply:
        try:
            limit, page = int(q.get("limit", "50")), int(q.get("page", "1"))
        except ValueError:
            return _v2_error(400, "The field 'limit' or 'page' is invalid.")
        if not 1 <= limit <= MAX_LIMIT or page < 1:
            return _v2_error(400, f"The field 'limit' must be between 1 and {MAX_LIMIT}.")
        chunk = items[(page - 1) * limit : page * limit]
        return (200, chunk, {}) if chunk else (204, None, {})

    def _store(self, q: dict[str, str], data: Any) -> Reply:
        return 200, {"id": self.store_hash, "name": "Emulated store", "currency": "USD"}, {}

    def _list_orders(self, q: dict[str, str], data: Any) -> Reply:
        orders = list(self.orders.values())
        if "status_id" in q:
            orders = [o for o in orders if str(o["status_id"]) == q["status_id"]]
        for name in (
            "min_date_modified",
            "max_date_modified",
            "min_date_created",
            "max_date_created",
        ):
            if name not in q:
                continue
            try:
                bound = _parse_date(q[name])
            except (TypeError, ValueError):
                return _v2_error(400, f"The field '{name}' is invalid.")
            field = "date_" + name.rsplit("_", 1)[1]
            if name.startswith("min"):
                orders = [o for o in orders if _parse_date(o[field]) >= bound]
            else:
                orders = [o for o in orders if _parse_date(o[field]) <= bound]
        sort = q.get("sort", "id:asc")
        field, _, direction = sort.partition(":")
        if field not in {"id", "customer_id", "date_created", "date_modified", "status_id"}:
            return _v2_error(400, "The field 'sort' is invalid.")
        value = (
            (lambda o: _parse_date(o[field])) if field.startswith("date") else (lambda o: o[field])
        )
        orders.sort(key=lambda o: (value(o), o["id"]), reverse=direction == "desc")
        return self._page(orders, q)

    def _order(self, order_id: int) -> Reply | None:
        if order_id not in self.orders:
            return _v2_error(404, "The requested resource was not found.")
        return None

    def _list_products(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        return self._order(order_id) or self._page(self.products[order_id], q)

    def _list_addresses(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        return self._order(order_id) or self._page(self.addresses[order_id], q)

    def _list_shipments(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        return self._order(order_id) or self._page(self.shipments[order_id], q)

    def _add_shipment(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        missing = self._order(order_id)
        if missing:
            return missing
        data = data or {}
        if refused := _v2_fields(data, SHIPMENT_FIELDS) or next(
            (
                r
                for item in data.get("items") or ()
                if (r := _v2_fields(item, SHIPMENT_ITEM_FIELDS))
            ),
            None,
        ):
            return refused
        for field in ("order_address_id", "items"):
            if field not in data:
                return _v2_error(400, f"The required field '{field}' was not supplied.")
        if data["order_address_id"] not in {a["id"] for a in self.addresses[order_id]}:
            return _v2_error(400, "The field 'order_address_id' is invalid.")
        products = {p["id"]: p for p in self.products[order_id]}
        if not data["items"]:
            return _v2_error(400, "The field 'items' is invalid.")
        for item in data["items"]:
            product = products.get(item.get("order_product_id"))
            if product is None or product["order_address_id"] != data["order_address_id"]:
                return _v2_error(400, "The field 'order_product_id' is invalid.")
            if (
                not 0
                < int(item.get("quantity") or 0)
                <= product["quantity"] - product["quantity_shipped"]
            ):
                return _v2_error(
                    400,
                    "The quantity specified is greater than the quantity of "
                    "the product that is available to ship.",
                )
        for item in data["items"]:
            products[item["order_product_id"]]["quantity_shipped"] += item["quantity"]
        shipment = {
            "id": next(self._ids),
            "order_id": order_id,
            **data,
            "date_created": rfc2822(datetime.now(UTC)),
        }
        self.shipments[order_id].append(shipment)
        done = all(p["quantity_shipped"] >= p["quantity"] for p in products.values())
        order = self.orders[order_id]
        order["status_id"] = 2 if done else 3
        order["status"] = STATUS[order["status_id"]]
        order["date_modified"] = rfc2822(datetime.now(UTC))
        return 201, shipment, {}

    def _absolute(self, q: dict[str, str], data: Any) -> Reply:
        items = (data or {}).get("items")
        if not isinstance(items, list) or not items:
            return _v3_error(422, "Input is invalid", {"items": "items is required"})
        names = {name: "is not a known field" for name in unknown(data, ADJUSTMENT_FIELDS)}
        for i, item in enumerate(items):
            fields = item if isinstance(item, dict) else {}
            for name in unknown(fields, ADJUSTMENT_ITEM_FIELDS):
                names[f"items.{i}.{name}"] = "is not a known field"
        if names:
            return _v3_error(422, "Input is invalid", names)
        if len(items) > MAX_ADJUSTMENTS:
            return _v3_error(
                422, "Input is invalid", {"items": f"must contain at most {MAX_ADJUSTMENTS} items"}
            )
        errors: dict[str, str] = {}
        for i, item in enumerate(items):
            if item.get("location_id") not in self.locations:
                errors[f"items.{i}.location_id"] = f"Location {item.get('location_id')} not found"
            if item.get("sku") not in self.stock:
                errors[f"items.{i}.sku"] = f"SKU {item.get('sku')!r} not found"
            quantity = item.get("quantity")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                errors[f"items.{i}.quantity"] = "quantity must be a non-negative integer"
        if errors:
            return _v3_error(422, "Inventory adjustment failed", errors)
        for item in items:
            self.stock[item["sku"]] = item["quantity"]
        return 200, {"transaction_id": str(uuid.uuid4())}, {}


def _v2_fields(payload: Any, allowed: set[str]) -> Reply | None:
    if not isinstance(payload, dict):
        return _v2_error(400, "The request body is invalid.")
    if extra := unknown(payload, allowed):
        return _v2_error(400, f"The field '{extra[0]}' is not supported.")
    return None


def bigcommerce_connection_json(emulator: BigCommerceEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>``: store API URL as host, access token as password."""
    return json.dumps(
        {"conn_type": "http", "host": emulator.host, "password": emulator.token, "extra": extra}
    )

"""A strict local emulator of the WooCommerce REST API v3 (+ Shipment Tracking).

Follows WordPress/WooCommerce behaviour: HTTP Basic (or ``consumer_key``/``consumer_secret``
query parameters) with WooCommerce's 401 bodies; ``per_page`` 1..100 else 400
``rest_invalid_param``; ``X-WP-Total``/``X-WP-TotalPages``/``Link`` on lists; a page past the
end is 400 ``rest_post_invalid_page_number``; ``modified_after``/``modified_before`` (and
``after``/``before``, on the creation date) exclusive and whole-second; ``sku`` filter
comma-separated, case-insensitive (MySQL collation) and also matching variations; ``include``
(ids) on products (products only, as without ``sku``) and on a product's variations; line items
name the product (and variation) of their SKU, products are ``virtual`` or not; batch calls
capped at 100 objects (413); unknown routes *and wrong methods* are 404 ``rest_no_route``
(WordPress has no 405). The Shipment Tracking routes exist only when ``tracking_extension`` is
true. WooCommerce documents no rate limit (hosts and WAFs answer 429/503 with ``Retry-After``):
``throttle_next`` injects those; nothing is metered. WordPress's REST API ignores query
parameters a route does not define (it refuses invalid values of those it does), and so does this
emulator. ``permissions`` is the key's permission (``read``, ``write`` or ``read_write``, as chosen
under WooCommerce > Settings > Advanced > REST API); like ``WC_REST_Authentication``, a key
without write permission gets 401 ``woocommerce_rest_authentication_error`` on POST/PUT/PATCH/
DELETE, one without read permission on GET/HEAD (OPTIONS always passes), before the route runs.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.platforms.woo_webhooks import SiteWebhooks
from dropstream.sandbox.strict import StrictEmulator

API = "/wp-json/wc/v3"
TRACKING = "/wp-json/wc-shipment-tracking/v3"
MAX_PER_PAGE = 100
MAX_BATCH = 100
STATUSES = {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}


def wc_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _error(status: int, code: str, message: str, **data: Any) -> Reply:
    return status, {"code": code, "message": message, "data": {"status": status, **data}}, {}


def _ids(value: str) -> set[int] | None:
    """A comma-separated id list (``include``), None if one is not an id."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    return {int(part) for part in parts} if all(p.isdigit() for p in parts) else None


NO_ROUTE = _error(404, "rest_no_route", "No route was found matching the URL and request method.")


class WooCommerceEmulator(StrictEmulator):
    """The emulated site: seed it, point an adapter at ``url`` with ``key``/``secret``."""

    def __init__(self, *, tracking_extension: bool = True) -> None:
        super().__init__()
        self.key = "ck_emulator_key"
        self.secret = "cs_emulator_secret"
        self.tracking_extension = tracking_extension
        self.permissions = "read_write"
        self.orders: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.trackings: dict[int, list[dict[str, Any]]] = {}
        self._ids = count(100)
        self.webhooks = SiteWebhooks(lambda: self.url)

    def stop(self) -> None:
        self.webhooks.sender.stop()
        super().stop()

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        *,
        modified_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),  # (sku, qty, unit price)
        status: str = "processing",
        shipping: dict[str, Any] | None = None,
        currency: str = "USD",
        method_title: str = "Flat rate",
    ) -> int:
        order_id = next(self._ids)
        address = shipping or {
            "first_name": "Ada",
            "last_name": "Buyer",
            "company": "",
            "address_1": "1 Main St",
            "address_2": "",
            "city": "Springfield",
            "state": "OR",
            "postcode": "97477",
            "country": "US",
            "phone": "",
        }
        self.orders[order_id] = {
            "id": order_id,
            "number": str(order_id),
            "status": status,
            "currency": currency,
            "date_created_gmt": wc_time(created_at or modified_at),
            "date_modified_gmt": wc_time(modified_at),
            "date_paid_gmt": wc_time(modified_at),
            "customer_note": "",
            "billing": {**address, "email": "buyer@example.com"},
            "shipping": address,
            "line_items": [
                {
                    "id": next(self._ids),
                    "name": f"Item {sku}",
                    **self._product_of(sku),
                    "quantity": qty,
                    "sku": sku,
                    "subtotal": str(Decimal(price) * qty),
                    "total": str(Decimal(price) * qty),
                    "price": Decimal(price),  # a JSON number, as WooCommerce sends it
                }
                for sku, qty, price in lines
            ],
            "shipping_lines": [
                {
                    "id": next(self._ids),
                    "method_id": "flat_rate",
                    "method_title": method_title,
                    "total": "5.00",
                }
            ],
            "meta_data": [],
            "refunds": [],
        }
        self.webhooks.sender.emit("order.created", self.orders[order_id])
        return order_id

    def cancel_order(
        self, order_id: int, *, at: datetime, status: str = "cancelled", reason: str = ""
    ) -> None:
        """The merchant cancels (status ``cancelled``) or refunds in full (status ``refunded``,
        a refund with ``reason`` listed in ``refunds``); ``date_modified_gmt`` moves to ``at``."""
        if status not in ("cancelled", "refunded"):
            raise ValueError(f"WooCommerce cancels with cancelled or refunded, not {status!r}")
        order = self.orders[order_id]
        if order["status"] in ("cancelled", "refunded", "completed"):
            raise ValueError(f"WooCommerce order {order_id} is {order['status']} already")
        order["status"] = status
        if status == "refunded":
            total = sum(Decimal(line["total"]) for line in order["line_items"])
            order["refunds"].append(
                {"id": next(self._ids), "reason": reason, "total": f"-{total:.2f}"}
            )
        order["date_modified_gmt"] = wc_time(at)
        self.webhooks.sender.emit("order.updated", order)  # WooCommerce: a status change

    def add_product(
        self,
        sku: str,
        stock: int | None = 0,
        variation_of: int | None = None,
        *,
        virtual: bool = False,
        downloadable: bool = False,
    ) -> int:
        """A simple product, or a variation of the (variable) product ``variation_of``;
        ``virtual`` ones need no shipping (a variation is virtual on its own). Orders seeded
        afterwards name it on their lines of ``sku`` (``product_id``, ``variation_id``)."""
        product_id = next(self._ids)
        if variation_of is not None:
            self.products[variation_of]["type"] = "variable"
        self.products[product_id] = {
            "id": product_id,
            "sku": sku,
            "type": "variation" if variation_of is not None else "simple",
            "parent_id": variation_of or 0,
            "virtual": virtual,
            "downloadable": downloadable,
            "manage_stock": stock is not None,
            "stock_quantity": stock,
        }
        return product_id

    def _product_of(self, sku: str) -> dict[str, int]:
        """A line item's ``product_id`` and ``variation_id`` for ``sku`` (0: no such product)."""
        found = next((p for p in self.products.values() if sku and p["sku"] == sku), None)
        if found is None:
            return {"product_id": 0, "variation_id": 0}
        if found["type"] == "variation":
            return {"product_id": found["parent_id"], "variation_id": found["id"]}
        return {"product_id": found["id"], "variation_id": 0}

    @property
    def stock(self) -> dict[str, int | None]:
        return {p["sku"]: p["stock_quantity"] for p in self.products.values() if p["sku"]}

    def calls(self, method: str, pattern: str) -> int:
        """Answered requests (any status but injected failures) matching ``pattern``."""
        return sum(
            1
            for r in self.requests
            if r["method"] == method and re.fullmatch(pattern, r["path"]) and not r["injected"]
        )

    def throttle_next(self, n: int = 1, retry_after: str = "0") -> None:
        """Answer the next ``n`` requests 429 with ``Retry-After`` (as a host or WAF does)."""
        self._failures.extend([(429, {"Retry-After": retry_after})] * n)

    # --- request handling -------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        log: dict[str, Any] = {"method": method, "path": path, "query": query, "injected": False}
        return self.answer(log, lambda: self._handle(method, path, query, headers, body, log))

    def crash_reply(self, exc: Exception) -> Reply:
        return 500, {"code": "emulator_crash", "message": repr(exc), "data": {"status": 500}}, {}

    def _auth(self, method: str, query: dict[str, list[str]], headers: Any) -> Reply | None:
        key = secret = None
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            key, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        elif "consumer_key" in query:
            key, secret = query["consumer_key"][0], (query.get("consumer_secret") or [""])[0]
        if key is None:
            return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if key != self.key:
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if secret != self.secret:
            return _error(
                401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
            )
        needed = "read" if method in ("GET", "HEAD") else "write"
        if method != "OPTIONS" and self.permissions not in (needed, "read_write"):
            return _error(
                401,
                "woocommerce_rest_authentication_error",
                f"The API key provided does not have {needed} permissions.",
            )
        return None

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
        log: dict[str, Any],
    ) -> Reply:
        if not (path.startswith(API + "/") or path.startswith(TRACKING + "/")):
            return NO_ROUTE
        if path.startswith(TRACKING) and not self.tracking_extension:
            return NO_ROUTE
        denied = self._auth(method, query, headers)
        if denied:
            return denied
        if failure := self.next_failure():
            log["injected"] = True
            status, extra = failure
            return status, {"code": "http_error", "message": "Service unavailable"}, extra
        data: Any = None
        if body:
            if "application/json" not in (headers.get("Content-Type") or ""):
                return _error(400, "rest_invalid_json", "Body must be JSON.")
            try:
                data = json.loads(body)
            except ValueError:
                return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
        log["body"] = data
        q = {k: v[-1] for k, v in query.items()}
        routes: list[tuple[str, dict[str, Any]]] = [
            (r"/orders", {"GET": self._list_orders}),
            (
                r"/orders/(\d+)",
                {
                    "GET": self._get_order,
                    "PUT": self._update_order,
                    "POST": self._update_order,
                    "PATCH": self._update_order,
                },
            ),
            (r"/orders/(\d+)/notes", {"GET": self._list_notes, "POST": self._add_note}),
            (r"/products", {"GET": self._list_products}),
            (r"/products/(\d+)/variations", {"GET": self._list_variations}),
            (r"/products/batch", {m: self._batch_products for m in ("POST", "PUT", "PATCH")}),
            (
                r"/products/(\d+)/variations/batch",
                {m: self._batch_variations for m in ("POST", "PUT", "PATCH")},
            ),
            (r"/system_status", {"GET": lambda q, d: (200, {"environment": {}}, {})}),
            (r"/webhooks", {"GET": self.webhooks.list, "POST": self.webhooks.create}),
            (r"/webhooks/(\d+)", {"GET": self.webhooks.get, "DELETE": self.webhooks.delete}),
        ]
        tracking = re.fullmatch(TRACKING + r"/orders/(\d+)/shipment-trackings", path)
        if tracking:
            handlers: dict[str, Any] = {"GET": self._list_trackings, "POST": self._add_tracking}
            if method not in handlers:
                return NO_ROUTE
            return handlers[method](q, data, int(tracking.group(1)))
        for pattern, handlers in routes:
            match = re.fullmatch(API + pattern, path)
            if match:
                if method not in handlers:
                    return NO_ROUTE
                return handlers[method](q, data, *(int(g) for g in match.groups()))
        return NO_ROUTE

    # --- collections ----------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]], q: dict[str, str], path: str) -> Reply:
        try:
            per_page = int(q.get("per_page", "10"))
            page = int(q.get("page", "1"))
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): per_page, page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
            )
        if page < 1:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page")
        total = len(items)
        pages = -(-total // per_page)
        if total and page > pages:
            return _error(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        others = "&".join(f"{k}={v}" for k, v in q.items() if k != "page")
        links = []
        if page > 1:
            links.append(f'<{self.url}{path}?{others}&page={page - 1}>; rel="prev"')
        if page < pages:
            links.append(f'<{self.url}{path}?{others}&page={page + 1}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        fields = q.get("_fields")
        if fields:
            keep = set(fields.split(","))
            chunk = [{k: v for k, v in item.items() if k in keep} for item in chunk]
        return 200, chunk, headers

    def _list_orders(self, q: dict[str, str], data: Any) -> Reply:
        orders = list(self.orders.values())
        if q.get("status") and q["status"] != "any":
            wanted = set(q["status"].split(","))
            if not wanted <= STATUSES:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): status")
            orders = [o for o in orders if o["status"] in wanted]
        if q.get("dates_are_gmt") not in (None, "true", "1", "false", "0"):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): dates_are_gmt")
        for name, field, keep in (
            ("modified_after", "date_modified_gmt", lambda a, b: a > b),
            ("modified_before", "date_modified_gmt", lambda a, b: a < b),
            ("after", "date_created_gmt", lambda a, b: a > b),
            ("before", "date_created_gmt", lambda a, b: a < b),
        ):
            if name in q:
                try:  # WP_Date_Query with inclusive=false: strictly after / before
                    bound = wc_time(datetime.fromisoformat(q[name]).replace(tzinfo=UTC))
                except ValueError:
                    return _error(400, "rest_invalid_param", f"Invalid parameter(s): {name}")
                orders = [o for o in orders if keep(o[field], bound)]
        if q.get("orderby", "date") not in {"date", "id", "include", "title", "slug", "modified"}:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): orderby")
        key = {"id": "id", "modified": "date_modified_gmt"}.get(
            q.get("orderby", ""), "date_created_gmt"
        )
        orders.sort(key=lambda o: (o[key], o["id"]), reverse=q.get("order", "desc") == "desc")
        return self._page(orders, q, API + "/orders")

    def _get_order(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        if order_id not in self.orders:
            return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return 200, self.orders[order_id], {}

    def _update_order(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        if order_id not in self.orders:
            return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        order = self.orders[order_id]
        data = data or {}
        if "status" in data:
            if data["status"] not in STATUSES:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): status")
            order["status"] = data["status"]
        for entry in data.get("meta_data") or []:
            if "key" not in entry:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): meta_data")
            order["meta_data"] = [m for m in order["meta_data"] if m["key"] != entry["key"]]
            order["meta_data"].append(
                {"id": next(self._ids), "key": entry["key"], "value": entry.get("value")}
            )
        order["date_modified_gmt"] = wc_time(datetime.now(UTC))
        return 200, order, {}

    def _list_notes(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        if order_id not in self.orders:
            return _error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        notes = self.notes.get(order_id, [])
        kind = q.get("type", "any")
        if kind == "customer":
            notes = [n for n in notes if n["customer_note"]]
        elif kind == "internal":
            notes = [n for n in notes if not n["customer_note"]]
        return 200, list(reversed(notes)), {}

    def _add_note(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        if order_id not in self.orders:
            return _error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        if not (data or {}).get("note"):
            return _error(
                400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"]
            )
        note = {
            "id": next(self._ids),
            "note": data["note"],
            "customer_note": bool(data.get("customer_note")),
            "date_created_gmt": wc_time(datetime.now(UTC)),
        }
        self.notes.setdefault(order_id, []).append(note)
        return 201, note, {}

    def _list_products(self, q: dict[str, str], data: Any) -> Reply:
        products = list(self.products.values())
        if "include" in q:  # post__in: ids, of products only (variations have their own route)
            ids = _ids(q["include"])
            if ids is None:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): include")
            products = [p for p in products if p["id"] in ids]
        if q.get("sku"):
            skus = q["sku"].split(",")
            if len(skus) > 1:
                skus.append(q["sku"])  # WooCommerce also matches the whole string
            folded = {s.casefold() for s in skus}
            products = [p for p in products if p["sku"] and p["sku"].casefold() in folded]
        else:  # without a sku filter, only post_type=product
            products = [p for p in products if p["type"] != "variation"]
        products.sort(key=lambda p: p["id"], reverse=q.get("order", "desc") == "desc")
        return self._page(products, q, API + "/products")

    def _list_variations(self, q: dict[str, str], data: Any, parent_id: int) -> Reply:
        if parent_id not in self.products or self.products[parent_id]["type"] == "variation":
            return _error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        found = [p for p in self.products.values() if p["parent_id"] == parent_id]
        if "include" in q:
            ids = _ids(q["include"])
            if ids is None:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): include")
            found = [p for p in found if p["id"] in ids]
        found.sort(key=lambda p: p["id"], reverse=q.get("order", "desc") == "desc")
        return self._page(found, q, f"{API}/products/{parent_id}/variations")

    def _batch(self, data: Any, parent_id: int | None) -> Reply:
        data = data or {}
        objects = sum(len(data.get(k) or []) for k in ("create", "update", "delete"))
        if objects > MAX_BATCH:
            return _error(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {MAX_BATCH} items for this request.",
            )
        if not any(data.get(k) for k in ("create", "update", "delete")):
            return 200, [], {}  # WC_REST_Controller::batch_items: nothing asked, empty array
        if data.get("create") or data.get("delete"):
            return _error(400, "emulator_unsupported", "only update is emulated")
        answers = []
        for item in data.get("update") or []:
            product = self.products.get(int(item.get("id") or 0))
            is_variation = product is not None and product["type"] == "variation"
            if (
                product is None
                or (parent_id is None and is_variation)
                or (
                    parent_id is not None
                    and (not is_variation or product["parent_id"] != parent_id)
                )
            ):
                code = (
                    "woocommerce_rest_product_variation_invalid_id"
                    if parent_id
                    else "woocommerce_rest_product_invalid_id"
                )
                answers.append(
                    {
                        "id": item.get("id"),
                        "error": {"code": code, "message": "Invalid ID.", "data": {"status": 400}},
                    }
                )
                continue
            quantity = item.get("stock_quantity")
            if quantity is not None and (
                isinstance(quantity, bool) or not isinstance(quantity, int)
            ):
                answers.append(
                    {
                        "id": item["id"],
                        "error": {
                            "code": "rest_invalid_param",
                            "message": "stock_quantity is not of type integer.",
                            "data": {"status": 400},
                        },
                    }
                )
                continue
            if "manage_stock" in item:
                product["manage_stock"] = bool(item["manage_stock"])
            if quantity is not None and product["manage_stock"]:
                product["stock_quantity"] = quantity
            answers.append(dict(product))
        return 200, {"update": answers}, {}

    def _batch_products(self, q: dict[str, str], data: Any) -> Reply:
        return self._batch(data, None)

    def _batch_variations(self, q: dict[str, str], data: Any, parent_id: int) -> Reply:
        if parent_id not in self.products or self.products[parent_id]["type"] != "variable":
            return _error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return self._batch(data, parent_id)

    def _list_trackings(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        if order_id not in self.orders:
            return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return 200, self.trackings.get(order_id, []), {}

    def _add_tracking(self, q: dict[str, str], data: Any, order_id: int) -> Reply:
        if order_id not in self.orders:
            return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        data = data or {}
        if not data.get("tracking_number"):
            return _error(
                400,
                "rest_missing_callback_param",
                "Missing parameter(s): tracking_number",
                params=["tracking_number"],
            )
        if not (data.get("tracking_provider") or data.get("custom_tracking_provider")):
            return _error(
                400, "woocommerce_shipment_tracking_missing_provider", "Missing tracking provider."
            )
        tracking = {
            "tracking_id": f"{next(self._ids):x}",
            "tracking_provider": data.get("tracking_provider") or data["custom_tracking_provider"],
            "tracking_link": data.get("custom_tracking_link") or "",
            "tracking_number": data["tracking_number"],
            "date_shipped": data.get("date_shipped") or datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        self.trackings.setdefault(order_id, []).append(tracking)
        return 201, tracking, {}


def woocommerce_connection_json(emulator: WooCommerceEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>``: site URL, consumer key as login, secret as password."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "login": emulator.key,
            "password": emulator.secret,
            "extra": extra,
        }
    )

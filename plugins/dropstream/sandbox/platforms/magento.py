"""A strict local emulator of the Magento 2 / Adobe Commerce REST API (the routes DropStream uses).

Routes under ``/rest/V1``: ``GET /orders`` and ``GET /shipments`` (``searchCriteria``),
``GET /orders/{id}``, ``POST /order/{id}/ship``, ``POST /inventory/source-items``; any other path
or method is 404 "Request does not match any route.". Errors are Magento's ``{"message",
"parameters"}`` (``%1`` / ``%name`` placeholders), a failed validation ``{"message": "Validation
Failed", "errors": [...]}``.

- **Auth and ACL:** ``Authorization: Bearer <integration access token>``; each token has the API
  resources of its integration (``tokens``). A missing, unknown or under-privileged token is 401
  "The consumer isn't authorized to access %resources." naming the route's resource, checked
  before the input is read (so a probe with an empty body proves a permission and writes nothing).
- **Input limits** (Adobe's "API security" page; enabled here, the stricter case):
  ``searchCriteria[pageSize]`` ≤ 300, at most 20 entities in a request list. A page past the end
  answers the last page again, as Magento's collections do; ``total_count`` says where it ends.
- **Strictness:** a query parameter other than ``searchCriteria[...]`` / ``fields``, or a body
  field the service's data interface does not define, is 400 ``"%fieldName" is not supported.``
  (Magento's message for unknown body fields; for query names the emulator is the stricter,
  to catch a typo in a ``searchCriteria`` key that Magento would silently not apply).
- **Rate limit:** Magento has none on its own; Adobe Commerce on cloud infrastructure can put one
  in front (Fastly), set per merchant. The emulator's token bucket is configurable (``rate``
  requests/s, ``burst``; default 50/50); past it, 429 with ``Retry-After``.
- **Ship:** the order must be in state ``new``/``processing`` with the items' quantities still
  open; empty ``items`` ships every open item (as Magento does); fully shipped -> ``complete``.
- **Cancel** (``cancel_order``, the merchant in the admin): an order not invoiced is
  ``canceled``; an invoiced (paid) one cannot be, and is refunded in full instead: ``closed``.
- **Source items:** unknown SKUs or sources fail the whole request with one error per item
  (``Product with SKU "%1" does not exist.``); nothing is saved then.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import count
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.strict import StrictEmulator, TokenBucket

REST = "/rest/V1"
PAGE_MAX, LIST_MAX = 300, 20
ORDERS_READ, SHIPMENTS_READ = "Magento_Sales::actions_view", "Magento_Sales::shipment"
SHIP, SOURCE_ITEMS = "Magento_Sales::ship", "Magento_InventoryApi::stock_source_item_assign"
ALL_RESOURCES = frozenset({ORDERS_READ, SHIPMENTS_READ, SHIP, SOURCE_ITEMS})
NOT_AUTHORIZED = "The consumer isn't authorized to access %resources."
NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
NOT_SUPPORTED = '"%fieldName" is not supported. Correct the field name and try again.'
CANNOT_SHIP = (
    "Shipment Document Validation Error(s):\nThe order does not allow a shipment to be created."
)
NO_ROUTE: Reply = (404, {"message": "Request does not match any route."}, {})
CRITERIA = re.compile(
    r"searchCriteria\[(?:"
    r"filter_groups\]\[(?P<g>\d+)\]\[filters\]\[(?P<f>\d+)\]\[(?P<fk>field|value|condition_type)"
    r"|sortOrders\]\[(?P<s>\d+)\]\[(?P<sk>field|direction)"
    r"|(?P<p>pageSize|currentPage))\]"
)
CONDITIONS = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "from": lambda a, b: a >= b,
    "gteq": lambda a, b: a >= b,
    "to": lambda a, b: a <= b,
    "lteq": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
}
#: Body fields of the data interfaces (ShipOrderInterface::execute, SourceItemInterface, …).
SHIP_FIELDS = {"items", "notify", "appendComment", "comment", "tracks", "packages", "arguments"}
SHIP_ITEM_FIELDS = {"order_item_id", "qty", "extension_attributes"}
TRACK_FIELDS = {"track_number", "title", "carrier_code", "extension_attributes"}
SOURCE_ITEM_FIELDS = {"sku", "source_code", "quantity", "status", "extension_attributes"}


def magento_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def error(status: int, message: str, parameters: Any = None, **extra: Any) -> Reply:
    body: dict[str, Any] = {"message": message, **extra}
    if parameters is not None:
        body["parameters"] = parameters
    return status, body, {}


def not_supported(name: str) -> Reply:
    return error(400, NOT_SUPPORTED, {"fieldName": name})


def _comparable(value: Any) -> Any:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def _matches(record: dict[str, Any], field: str, value: Any, condition: str) -> bool:
    have, want = _comparable(record.get(field)), _comparable(value)
    if condition == "in":
        return str(record.get(field)) in str(value).split(",")
    if type(have) is not type(want):  # a number against text: compare as text
        have, want = str(record.get(field)), str(value)
    return bool(CONDITIONS[condition](have, want))


class MagentoEmulator(StrictEmulator):
    """The emulated store: seed it, point an adapter at ``url`` with ``token``."""

    def __init__(self, *, rate: float = 50.0, burst: float = 50.0) -> None:
        super().__init__()
        self.token = "mg-integration-token-0123456789"
        self.tokens: dict[str, set[str]] = {self.token: set(ALL_RESOURCES)}
        self.orders: dict[int, dict[str, Any]] = {}
        self.shipments: list[dict[str, Any]] = []
        self.products: set[str] = set()
        self.sources = {"default"}
        self.source_items: dict[tuple[str, str], dict[str, Any]] = {}
        self.rate = rate
        self.bucket = TokenBucket(burst, rate)
        self.throttled = 0
        self._ids = count(100)

    # --- seeding and inspection -------------------------------------------------------------
    def grant(self, *resources: str) -> str:
        """A new integration token with only ``resources`` (e.g. read-only: ``ORDERS_READ``)."""
        token = f"mg-token-{next(self._ids)}"
        self.tokens[token] = set(resources)
        return token

    def add_order(
        self,
        *,
        updated_at: datetime,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),  # (sku, qty, unit price)
        address: dict[str, Any] | None = None,
        state: str = "processing",
        total_due: str = "0.00",
        configurable: bool = False,  # each line a configurable parent with its simple child
        virtual_skus: Collection[str] = (),  # lines of virtual products (nothing to ship)
    ) -> int:
        order_id = next(self._ids)
        shipping = address or {
            "firstname": "Ada",
            "lastname": "Buyer",
            "company": "",
            "street": ["1 Main St"],
            "city": "Springfield",
            "region": "Oregon",
            "region_code": "OR",
            "postcode": "97477",
            "country_id": "US",
            "telephone": "555-0100",
        }
        items: list[dict[str, Any]] = []
        for sku, qty, price in lines:
            kind = "configurable" if configurable else "simple"
            kind = "virtual" if sku in virtual_skus else kind
            item = {
                "item_id": next(self._ids),
                "order_id": order_id,
                "sku": sku,
                "name": f"Item {sku}",
                "product_type": kind,
                "is_virtual": int(kind == "virtual"),
                "qty_ordered": Decimal(qty),
                "qty_shipped": Decimal(0),
                "qty_refunded": Decimal(0),
                "qty_canceled": Decimal(0),
                "price": Decimal(price),
                "price_incl_tax": Decimal(price),
            }
            items.append(item)
            if configurable:
                child = item | {"item_id": next(self._ids), "product_type": "simple"}
                items.append(child | {"parent_item_id": item["item_id"], "price": Decimal(0)})
        total = sum((i["price"] * i["qty_ordered"] for i in items), Decimal(0))
        self.orders[order_id] = {
            "entity_id": order_id,
            "increment_id": f"{order_id:09d}",
            "state": state,
            "status": {"new": "pending"}.get(state, state),
            "created_at": magento_time(created_at or updated_at),
            "updated_at": magento_time(updated_at),
            "customer_email": "buyer@example.com",
            "order_currency_code": "USD",
            "grand_total": total,
            "total_due": Decimal(total_due),
            "shipping_description": "Flat Rate - Fixed",
            "billing_address": {
                **shipping,
                "address_type": "billing",
                "email": "buyer@example.com",
            },
            "items": items,
            "extension_attributes": {
                "shipping_assignments": [
                    {
                        "shipping": {
                            "address": {**shipping, "address_type": "shipping"},
                            "method": "flatrate_flatrate",
                        },
                        "items": items,
                    }
                ]
            },
        }
        return order_id

    def cancel_order(self, order_id: int, *, at: datetime) -> None:
        """The merchant cancels the order, as Magento allows it: an order with an amount due (not
        invoiced) is cancelled (state and status ``canceled``, open quantities ``qty_canceled``);
        an invoiced one cannot be (``Order::canCancel``) and is refunded in full with a credit
        memo instead (state and status ``closed``, ``qty_refunded``). ``updated_at`` moves to
        ``at``. An order with anything shipped, or canceled, closed or complete, is refused."""
        order = self.orders[int(order_id)]
        if order["state"] in ("canceled", "closed", "complete"):
            raise ValueError(f"Magento order {order_id} is {order['state']}: it cannot be canceled")
        if any(item["qty_shipped"] for item in order["items"]):
            raise ValueError(f"Magento order {order_id} has shipments: refund it item by item")
        invoiced = Decimal(order["total_due"]) <= 0
        for item in order["items"]:
            item["qty_refunded" if invoiced else "qty_canceled"] = item["qty_ordered"]
        order["state"] = order["status"] = "closed" if invoiced else "canceled"
        order["updated_at"] = magento_time(at)

    def add_product(self, sku: str, quantity: int = 0, source: str = "default") -> None:
        self.products.add(sku)
        self.source_items[(sku, source)] = {
            "sku": sku,
            "source_code": source,
            "quantity": Decimal(quantity),
            "status": int(quantity > 0),
        }

    def quantity(self, sku: str, source: str = "default") -> int | None:
        item = self.source_items.get((sku, source))
        return None if item is None else int(item["quantity"])

    def throttle_next(self, n: int = 1, retry_after: str = "0") -> None:
        """Answer the next ``n`` requests 429 (as a rate-limiting front end does)."""
        self._failures.extend([(429, {"Retry-After": retry_after})] * n)

    def calls(self, method: str, pattern: str) -> int:
        """Requests answered (not injected failures, not throttled) matching ``pattern``."""
        return sum(
            1
            for r in self.requests
            if r["method"] == method
            and re.fullmatch(REST + pattern, r["path"])
            and not r["injected"]
            and r["status"] != 429
        )

    # --- request handling -------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        log: dict[str, Any] = {"method": method, "path": path, "query": query, "injected": False}
        return self.answer(log, lambda: self._handle(method, path, query, headers, body, log))

    def crash_reply(self, exc: Exception) -> Reply:
        return error(500, "Internal Error. Details are available in Magento log file.")

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Any,
        body: bytes,
        log: dict[str, Any],
    ) -> Reply:
        if not self.bucket.take():
            self.throttled += 1
            wait = math.ceil(self.bucket.seconds_until())
            return 429, {"message": "Too Many Requests"}, {"Retry-After": str(max(wait, 1))}
        routes: list[tuple[str, str, str, Any, bool]] = [  # method, pattern, resource, handler
            ("GET", r"/orders", ORDERS_READ, self._list_orders, True),
            ("GET", r"/orders/(\d+)", ORDERS_READ, self._get_order, False),
            ("GET", r"/shipments", SHIPMENTS_READ, self._list_shipments, True),
            ("POST", r"/order/(\d+)/ship", SHIP, self._ship, False),
            ("POST", r"/inventory/source-items", SOURCE_ITEMS, self._save_source_items, False),
        ]
        for verb, pattern, resource, handler, searchable in routes:
            match = re.fullmatch(REST + pattern, path)
            if match is None or verb != method:
                continue
            auth = headers.get("Authorization") or ""
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
            if resource not in self.tokens.get(token, set()):
                return error(401, NOT_AUTHORIZED, {"resources": resource})
            if failure := self.next_failure():
                log["injected"] = True
                status, extra = failure
                if status == 429:
                    self.throttled += 1
                return status, {"message": "Injected failure"}, extra
            criteria: dict[str, Any] = {}
            for name, values in query.items():
                if name == "fields":
                    continue
                found = CRITERIA.fullmatch(name) if searchable else None
                if found is None:
                    return not_supported(name)
                _criterion(criteria, found, values[-1])
            data: Any = None
            if method == "POST":
                try:
                    data = json.loads(body or b"null")
                except ValueError:
                    return error(400, "Decoding error: \nSyntax error")
                log["body"] = data
                if not isinstance(data, dict):
                    return error(400, "Decoding error: \nSyntax error")
            args = [int(g) for g in match.groups()]
            return handler(criteria, data, *args) if searchable else handler(data, *args)
        return NO_ROUTE

    # --- searches ---------------------------------------------------------------------------
    def _search(self, records: list[dict[str, Any]], criteria: dict[str, Any]) -> Reply:
        for group in criteria.get("groups", {}).values():  # groups AND, filters in a group OR
            filters = list(group.values())
            for f in filters:
                if "field" not in f or "value" not in f and f.get("condition_type") != "null":
                    return error(
                        400,
                        '"%fieldName" is required. Enter and try again.',
                        {"fieldName": "field"},
                    )
                if f.get("condition_type", "eq") not in CONDITIONS | {"in": None}:
                    return error(400, "Invalid condition type: %1", [f["condition_type"]])
            records = [
                r
                for r in records
                if any(
                    _matches(r, f["field"], f["value"], f.get("condition_type", "eq"))
                    for f in filters
                )
            ]
        for sort in reversed([s for _, s in sorted(criteria.get("sorts", {}).items())]):
            descending = str(sort.get("direction", "ASC")).upper() == "DESC"
            field = sort.get("field")
            records.sort(key=lambda r: _comparable(r.get(field)), reverse=descending)
        total = len(records)
        try:
            size = int(criteria.get("pageSize") or 0)
            page = max(int(criteria.get("currentPage") or 1), 1)
        except ValueError:
            return error(400, "The search criteria is invalid.")
        if size > PAGE_MAX:
            return error(400, "Maximum SearchCriteria pageSize is %max", {"max": PAGE_MAX})
        if size:
            last = max(math.ceil(total / size), 1)
            page = min(page, last)  # past the end: the last page again
            records = records[(page - 1) * size : page * size]
        echo = {"page_size": size or None, "current_page": page}
        return 200, {"items": records, "search_criteria": echo, "total_count": total}, {}

    def _list_orders(self, criteria: dict[str, Any], data: Any) -> Reply:
        return self._search(list(self.orders.values()), criteria)

    def _get_order(self, data: Any, order_id: int) -> Reply:
        order = self.orders.get(order_id)
        return (200, order, {}) if order is not None else error(404, NO_ENTITY)

    def _list_shipments(self, criteria: dict[str, Any], data: Any) -> Reply:
        return self._search(list(self.shipments), criteria)

    # --- writes -----------------------------------------------------------------------------
    def _ship(self, data: dict[str, Any], order_id: int) -> Reply:
        for payload, allowed in [(data, SHIP_FIELDS)] + [
            (entry, fields)
            for key, fields in (("items", SHIP_ITEM_FIELDS), ("tracks", TRACK_FIELDS))
            for entry in data.get(key) or []
        ]:
            if not isinstance(payload, dict):
                return error(400, "Decoding error: \nSyntax error")
            if extra := sorted(set(payload) - allowed):
                return not_supported(extra[0])
        order = self.orders.get(order_id)
        if order is None:
            return error(404, NO_ENTITY)
        own = {i["item_id"]: i for i in order["items"] if not i.get("parent_item_id")}
        left = {k: i["qty_ordered"] - i["qty_shipped"] - i["qty_refunded"] - i["qty_canceled"]
                for k, i in own.items()}  # fmt: skip
        wanted = [(i.get("order_item_id"), i.get("qty")) for i in data.get("items") or []]
        if not wanted:  # no items: Magento ships everything still open
            wanted = [(k, n) for k, n in left.items() if n > 0]
        if order["state"] not in ("new", "processing") or not wanted:
            return error(400, CANNOT_SHIP)
        shipped: dict[int, Decimal] = {}
        for item_id, qty in wanted:
            if item_id not in own or not isinstance(qty, int | float | Decimal) or qty <= 0:
                return error(400, CANNOT_SHIP)
            shipped[item_id] = shipped.get(item_id, Decimal(0)) + Decimal(str(qty))
            if shipped[item_id] > left[item_id]:
                return error(400, CANNOT_SHIP)
        for track in data.get("tracks") or []:
            for field in ("track_number", "carrier_code", "title"):
                if not str(track.get(field) or "").strip():
                    return error(
                        400, '"%fieldName" is required. Enter and try again.', {"fieldName": field}
                    )
        shipment_id = next(self._ids)
        for item_id, qty in shipped.items():
            own[item_id]["qty_shipped"] += qty
        self.shipments.append(
            {
                "entity_id": shipment_id,
                "order_id": order_id,
                "increment_id": f"{shipment_id:09d}",
                "created_at": magento_time(datetime.now(UTC)),
                "items": [
                    {"order_item_id": k, "qty": n, "sku": own[k]["sku"]} for k, n in shipped.items()
                ],
                "tracks": [
                    {"entity_id": next(self._ids), "parent_id": shipment_id, "order_id": order_id}
                    | {k: t[k] for k in ("track_number", "title", "carrier_code")}
                    for t in data.get("tracks") or []
                ],
            }
        )
        if all(i["qty_shipped"] >= i["qty_ordered"] - i["qty_canceled"] for i in own.values()):
            order["state"] = order["status"] = "complete"
        order["updated_at"] = magento_time(datetime.now(UTC))
        return 200, shipment_id, {}

    def _save_source_items(self, data: dict[str, Any]) -> Reply:
        if extra := sorted(set(data) - {"sourceItems"}):
            return not_supported(extra[0])
        items = data.get("sourceItems")
        if not isinstance(items, list) or not items:
            return error(400, "Input data is empty")
        if len(items) > LIST_MAX:
            kind = "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"
            return error(
                400, 'Maximum items of type "%type" is %max', {"type": kind, "max": LIST_MAX}
            )
        errors: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                return error(400, "Decoding error: \nSyntax error")
            if extra := sorted(set(item) - SOURCE_ITEM_FIELDS):
                return not_supported(extra[0])
            sku, source = str(item.get("sku") or ""), str(item.get("source_code") or "")
            if sku not in self.products:
                errors.append(
                    {"message": 'Product with SKU "%1" does not exist.', "parameters": [sku]}
                )
            if source not in self.sources:
                errors.append(
                    {"message": 'Source with code "%1" does not exist.', "parameters": [source]}
                )
            quantity = item.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int | float) or quantity < 0:
                errors.append(
                    {"message": '"%field" should be numeric.', "parameters": {"field": "quantity"}}
                )
            if item.get("status") not in (0, 1):
                errors.append(
                    {
                        "message": '"%field" should be known status.',
                        "parameters": {"field": "status"},
                    }
                )
        if errors:
            return error(400, "Validation Failed", errors=errors)
        for item in items:
            self.source_items[(item["sku"], item["source_code"])] = {
                "sku": item["sku"],
                "source_code": item["source_code"],
                "quantity": Decimal(str(item["quantity"])),
                "status": item["status"],
            }
        return 200, [], {}


def _criterion(criteria: dict[str, Any], found: re.Match[str], value: str) -> None:
    if found["g"] is not None:
        group = criteria.setdefault("groups", {}).setdefault(int(found["g"]), {})
        group.setdefault(int(found["f"]), {})[found["fk"]] = value
    elif found["s"] is not None:
        criteria.setdefault("sorts", {}).setdefault(int(found["s"]), {})[found["sk"]] = value
    else:
        criteria[found["p"]] = value


def magento_connection_json(emulator: MagentoEmulator, *, token: str = "", **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>``: store URL as host, access token as password, and the
    emulator's rate limit as ``requests_per_second`` (the merchant knows their front end's)."""
    extra = {"requests_per_second": emulator.rate, **extra}
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "password": token or emulator.token,
            "extra": extra,
        }
    )

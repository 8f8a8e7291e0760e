"""State and resolvers of the Shopify emulator (see ``dropstream.sandbox.shopify.emulator``).

Plain in-memory objects; the GraphQL layer reads them through dict "views" whose callables
graphql-core's default resolver calls with the field arguments.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

from graphql import GraphQLError

MAX_PAGE = 250
FULFILLABLE = {"OPEN", "IN_PROGRESS"}
INVENTORY_REASONS = {
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "other",
    "received",
    "restock",
    "safety_stock",
    "shrinkage",
}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip("'\"").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Line:
    id: str
    sku: str
    quantity: int
    price: Decimal
    title: str = "Item"
    requires_shipping: bool = True
    gift_card: bool = False


@dataclass
class FOLine:
    id: str
    line: Line
    remaining: int


@dataclass
class FulfillmentOrder:
    id: str
    status: str
    items: list[FOLine]


@dataclass
class Order:
    id: str
    number: int
    created_at: datetime
    updated_at: datetime
    email: str
    currency: str
    financial_status: str
    address: dict[str, Any] | None
    shipping_line: dict[str, Any] | None
    lines: list[Line]
    fulfillment_orders: list[FulfillmentOrder]
    fulfillments: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    cancelled_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    cancel_reason: str | None = None

    @property
    def fulfillment_status(self) -> str:
        if self.cancelled_at is not None and not self.fulfillments:
            return "FULFILLMENT_NOT_REQUIRED"  # 2026-10: cancelled with nothing left to fulfil
        remaining = sum(i.remaining for fo in self.fulfillment_orders for i in fo.items)
        total = sum(line.quantity for line in self.lines)
        if remaining == total:
            return "UNFULFILLED"
        return "FULFILLED" if remaining == 0 else "PARTIALLY_FULFILLED"


@dataclass
class Variant:
    id: str
    sku: str
    item_id: str
    available: int


def encode_cursor(kind: str, key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, key]).encode()).decode()


def connection(items: list[Any], kind: str, key: Any, view: Any, args: dict[str, Any]) -> dict:
    """A Relay connection over ``items`` (already sorted) with opaque cursors; first/after only."""
    first, after = args.get("first"), args.get("after")
    if args.get("last") is not None or args.get("before") is not None:
        raise GraphQLError("emulator supports forward pagination (first/after) only")
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    start = 0
    if after is not None:
        try:
            got_kind, got_key = json.loads(base64.urlsafe_b64decode(after.encode()))
            keys = [key(i) for i in items]
            start = keys.index(got_key) + 1
        except (ValueError, TypeError) as exc:
            raise GraphQLError(f"Invalid cursor: {after!r}") from exc
        if got_kind != kind:
            raise GraphQLError(f"Invalid cursor: {after!r}")
    page = items[start : start + first]
    edges = [{"cursor": encode_cursor(kind, key(i)), "node": view(i)} for i in page]
    return {
        "nodes": [e["node"] for e in edges],
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


_TERM = re.compile(r"(\w+):(>=|<=|>|<)?('[^']*'|\"(?:[^\"\\]|\\.)*\"|[^\s]+)|(\S+)")


def parse_search(query: str) -> list[tuple[str, str, str]]:
    """Shopify search syntax subset: ``field:value``, ``field:>='time'``, OR between terms."""
    terms = []
    for match in _TERM.finditer(query or ""):
        name, op, value, bare = match.groups()
        if bare is not None:
            if bare in ("OR", "AND"):
                terms.append(("", bare, ""))
                continue
            raise GraphQLError(f"emulator: unsupported search term {bare!r}")
        if value[0] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        terms.append((name, op or ":", value))
    return terms


class Store:
    """The emulated shop's data and the GraphQL resolvers over it."""

    def __init__(self) -> None:
        self.ids = count(1001)
        self.orders: dict[str, Order] = {}
        self.variants: list[Variant] = []
        self.location_ids = ["gid://shopify/Location/1"]
        self.fulfillments: list[dict[str, Any]] = []
        self.scopes = [
            "read_orders",
            "read_merchant_managed_fulfillment_orders",
            "write_merchant_managed_fulfillment_orders",
            "read_inventory",
            "write_inventory",
            "read_products",
        ]
        self.after_lookup: list[Any] = []  # one-shot callbacks run after a productVariants read

    def gid(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{next(self.ids)}"

    # --- views ------------------------------------------------------------------------------
    def line_view(self, line: Line, currency: str) -> dict[str, Any]:
        money = {"amount": str(line.price), "currencyCode": currency}
        return {
            "id": line.id,
            "sku": line.sku,
            "name": line.title,
            "title": line.title,
            "quantity": line.quantity,
            "currentQuantity": line.quantity,
            "requiresShipping": line.requires_shipping,
            "isGiftCard": line.gift_card,
            "originalUnitPriceSet": {"shopMoney": money, "presentmentMoney": money},
        }

    def order_view(self, o: Order) -> dict[str, Any]:
        def fo_view(fo: FulfillmentOrder) -> dict[str, Any]:
            def fo_line(i: FOLine) -> dict[str, Any]:
                return {
                    "id": i.id,
                    "sku": i.line.sku,
                    "totalQuantity": i.line.quantity,
                    "remainingQuantity": i.remaining,
                    "lineItem": self.line_view(i.line, o.currency),
                }

            return {
                "id": fo.id,
                "status": fo.status,
                "lineItems": lambda _i, **a: connection(
                    fo.items, "FulfillmentOrderLineItem", lambda x: x.id, fo_line, a
                ),
            }

        def fulfillment_view(f: dict[str, Any]) -> dict[str, Any]:
            tracking = [{"company": f["company"], "number": f["number"], "url": f["url"]}]
            return {**f, "trackingInfo": lambda _i, first=None: tracking[:first]}

        return {
            "id": o.id,
            "name": f"#{o.number}",
            "createdAt": iso(o.created_at),
            "updatedAt": iso(o.updated_at),
            "email": o.email,
            "currencyCode": o.currency,
            "closed": o.closed,
            "cancelledAt": o.cancelled_at and iso(o.cancelled_at),
            "cancelReason": o.cancel_reason,
            "displayFinancialStatus": o.financial_status,
            "displayFulfillmentStatus": o.fulfillment_status,
            "note": None,
            "tags": list(o.tags),
            "shippingAddress": o.address,
            "shippingLine": o.shipping_line,
            "lineItems": lambda _i, **a: connection(
                o.lines, "LineItem", lambda x: x.id, lambda x: self.line_view(x, o.currency), a
            ),
            "fulfillmentOrders": lambda _i, **a: connection(
                o.fulfillment_orders,
                "FulfillmentOrder",
                lambda x: x.id,
                fo_view,
                {k: v for k, v in a.items() if k in ("first", "after", "last", "before")},
            ),
            "fulfillments": lambda _i, first=None: [fulfillment_view(f) for f in o.fulfillments][
                :first
            ],
        }

    def variant_view(self, v: Variant) -> dict[str, Any]:
        def level(_info: Any, locationId: str) -> dict[str, Any] | None:  # noqa: N803
            if locationId not in self.location_ids:
                return None
            return {
                "id": f"{v.item_id}?location={locationId}",
                "location": self.location(locationId),
                "quantities": lambda _i, names: [
                    {
                        "id": f"{v.item_id}/{n}",
                        "name": n,
                        "quantity": v.available,
                        "updatedAt": None,
                    }
                    for n in names
                    if n == "available"
                ],
            }

        item = {"id": v.item_id, "sku": v.sku, "tracked": True, "inventoryLevel": level}
        return {
            "id": v.id,
            "sku": v.sku,
            "title": v.sku,
            "displayName": v.sku,
            "inventoryItem": item,
        }

    def location(self, location_id: str) -> dict[str, Any]:
        return {"id": location_id, "name": "Warehouse", "isActive": True}

    # --- queries ----------------------------------------------------------------------------
    def matching_orders(self, query: str) -> list[Order]:
        found = sorted(self.orders.values(), key=lambda o: (o.updated_at, o.number))
        for name, op, value in parse_search(query):
            if name in ("updated_at", "created_at"):
                bound = parse_time(value)
                compare = {
                    ">=": bound.__le__,
                    ">": bound.__lt__,
                    "<": bound.__gt__,
                    "<=": bound.__ge__,
                    ":": bound.__eq__,
                }[op]
                found = [o for o in found if compare(getattr(o, name))]
            elif (name, value.lower()) == ("financial_status", "paid"):
                found = [o for o in found if o.financial_status == "PAID"]
            elif (name, value.lower()) == ("fulfillment_status", "unshipped"):
                found = [o for o in found if o.fulfillment_status == "UNFULFILLED"]
            elif (name, value.lower()) == ("status", "open"):
                found = [o for o in found if not o.closed and o.cancelled_at is None]
            elif (name, value.lower()) == ("status", "cancelled"):
                found = [o for o in found if o.cancelled_at is not None]
            else:
                raise GraphQLError(f"emulator: unsupported orders search term {name}:{value}")
        return found

    def resolve_orders(
        self,
        _info: Any,
        query: str = "",
        sortKey: str = "ID",  # noqa: N803
        reverse: bool = False,
        **args: Any,
    ) -> dict[str, Any]:
        found = self.matching_orders(query)
        if sortKey == "ID":
            found.sort(key=lambda o: o.number)
        elif sortKey != "UPDATED_AT":
            raise GraphQLError(f"emulator: sortKey {sortKey} not supported")
        if reverse:
            found.reverse()
        return connection(found, "Order", lambda o: o.id, self.order_view, args)

    def resolve_product_variants(self, _info: Any, query: str = "", **args: Any) -> dict[str, Any]:
        terms = parse_search(query)
        skus = {v.lower() for n, _, v in terms if n == "sku"}
        if any(n not in ("sku", "") or op == "AND" for n, op, _ in terms):
            raise GraphQLError("emulator: productVariants supports `sku:X OR sku:Y` queries only")
        found = [v for v in self.variants if not terms or v.sku.lower() in skus]
        result = connection(found, "ProductVariant", lambda v: v.id, self.variant_view, args)
        return result

    def root(self) -> dict[str, Any]:
        return {
            "shop": {
                "id": "gid://shopify/Shop/1",
                "name": "Emulated Shop",
                "myshopifyDomain": "emulated.myshopify.com",
                "currencyCode": "USD",
            },
            "currentAppInstallation": {
                "id": "gid://shopify/AppInstallation/1",
                "accessScopes": [{"handle": s, "description": s} for s in self.scopes],
            },
            "orders": self.resolve_orders,
            "order": lambda _i, id: (o := self.orders.get(id)) and self.order_view(o),
            "productVariants": self.resolve_product_variants,
            "locations": lambda _i, **a: connection(
                self.location_ids,
                "Location",
                lambda x: x,
                self.location,
                {k: v for k, v in a.items() if k in ("first", "after", "last", "before")},
            ),
            "location": lambda _i, id=None: self.location(id) if id in self.location_ids else None,
            "fulfillmentCreate": self.fulfillment_create,
            "inventorySetQuantities": self.inventory_set_quantities,
            "orderCancel": self.order_cancel,
        }

    # --- mutations --------------------------------------------------------------------------
    def cancel(
        self, order_id: str, reason: str, *, refund: bool = True, at: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Cancel an order as Shopify does; the OrderCancelUserErrors (none when it worked).

        A cancelled order gets ``cancelledAt``/``cancelReason``, a new ``updatedAt``, its open
        fulfillment orders cancelled, and leaves ``status:open`` for ``status:cancelled``. Shopify
        also cancels orders with fulfillments (the goods may be on their way): so does this.
        """
        order = self.orders.get(order_id)
        if order is None:
            return [{"code": "NOT_FOUND", "field": ["orderId"], "message": "Order not found"}]
        if order.cancelled_at is not None:
            return [{"code": "INVALID", "field": ["orderId"],
                     "message": "Order has already been cancelled"}]  # fmt: skip
        when = at or datetime.now(UTC)
        order.cancelled_at = order.updated_at = when
        order.cancel_reason = reason
        if refund and order.financial_status in ("PAID", "PARTIALLY_REFUNDED"):
            order.financial_status = "REFUNDED"
        elif order.financial_status in ("AUTHORIZED", "PENDING"):
            order.financial_status = "VOIDED"
        for fo in order.fulfillment_orders:
            if fo.status in FULFILLABLE:
                fo.status = "CANCELLED"
        return []

    def order_cancel(self, _info: Any, orderId: str, reason: str, restock: bool,  # noqa: N803
                     refund: bool | None = None, **_options: Any) -> dict[str, Any]:  # fmt: skip
        errors = self.cancel(orderId, reason, refund=refund is not False)
        job = None if errors else {"id": self.gid("Job"), "done": False}  # runs in the background
        return {
            "job": job,
            "orderCancelUserErrors": errors,
            "userErrors": [{"field": e["field"], "message": e["message"]} for e in errors],
        }

    def fulfillment_create(
        self, _info: Any, fulfillment: dict[str, Any], message: str = ""
    ) -> dict:
        fos = {fo.id: (o, fo) for o in self.orders.values() for fo in o.fulfillment_orders}
        plan: list[tuple[FOLine, int]] = []
        errors: list[dict[str, Any]] = []
        orders = set()
        for g, group in enumerate(fulfillment["lineItemsByFulfillmentOrder"]):
            where = ["fulfillment", "lineItemsByFulfillmentOrder", str(g)]
            found = fos.get(group["fulfillmentOrderId"])
            if found is None or found[1].status not in FULFILLABLE:
                errors.append(
                    {
                        "field": [*where, "fulfillmentOrderId"],
                        "message": "Fulfillment order does not exist or is not fulfillable.",
                    }
                )
                continue
            order, fo = found
            orders.add(order.id)
            items = {i.id: i for i in fo.items}
            requested = group.get("fulfillmentOrderLineItems")
            if requested is None:  # omitted: fulfil everything that remains
                requested = [{"id": i.id, "quantity": i.remaining} for i in fo.items if i.remaining]
            for n, req in enumerate(requested):
                item = items.get(req["id"])
                if item is None:
                    errors.append(
                        {
                            "field": [*where, "fulfillmentOrderLineItems", str(n), "id"],
                            "message": "Fulfillment order line item does not exist.",
                        }
                    )
                elif not 0 < req["quantity"] <= item.remaining:
                    errors.append(
                        {
                            "field": [*where, "fulfillmentOrderLineItems", str(n)],
                            "message": f"Invalid quantity {req['quantity']}: only "
                            f"{item.remaining} remaining to fulfill.",
                        }
                    )
                else:
                    plan.append((item, req["quantity"]))
        if len(orders) > 1:
            errors.append(
                {
                    "field": ["fulfillment"],
                    "message": "All fulfillment orders must belong to the same order.",
                }
            )
        if errors or not plan:
            return {
                "fulfillment": None,
                "userErrors": errors
                or [{"field": ["fulfillment"], "message": "No line items to fulfill."}],
            }
        order = self.orders[orders.pop()]
        for item, quantity in plan:
            item.remaining -= quantity
        for fo in order.fulfillment_orders:
            if fo.status in FULFILLABLE:
                fo.status = "CLOSED" if not any(i.remaining for i in fo.items) else "IN_PROGRESS"
        tracking = fulfillment.get("trackingInfo") or {}
        now = datetime.now(UTC)
        record = {
            "id": self.gid("Fulfillment"),
            "name": f"#{order.number}-F",
            "status": "SUCCESS",
            "createdAt": iso(now),
            "company": tracking.get("company"),
            "number": tracking.get("number"),
            "url": tracking.get("url"),
        }
        order.fulfillments.append(record)
        order.updated_at = now
        self.fulfillments.append(
            {
                **record,
                "order_id": order.id,
                "order_number": str(order.number),
                "notify_customer": bool(fulfillment.get("notifyCustomer")),
                "lines": {item.line.id: qty for item, qty in plan},
            }
        )
        return {"fulfillment": self.order_view(order)["fulfillments"](None)[-1], "userErrors": []}

    def inventory_set_quantities(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        errors = []
        if input["name"] not in ("available", "on_hand"):
            errors.append(
                {
                    "field": ["input", "name"],
                    "code": "INVALID_NAME",
                    "message": f"The quantity name {input['name']!r} is not valid.",
                }
            )
        if input["reason"] not in INVENTORY_REASONS:
            errors.append(
                {
                    "field": ["input", "reason"],
                    "code": "INVALID_REASON",
                    "message": "The specified reason is invalid.",
                }
            )
        by_item = {v.item_id: v for v in self.variants}
        changes: list[tuple[Variant, int]] = []
        for n, q in enumerate(input["quantities"]):
            where = ["input", "quantities", str(n)]
            variant = by_item.get(q["inventoryItemId"])
            if variant is None:
                errors.append(
                    {
                        "field": [*where, "inventoryItemId"],
                        "code": "INVALID_INVENTORY_ITEM",
                        "message": "The inventory item could not be found.",
                    }
                )
            elif q["locationId"] not in self.location_ids:
                errors.append(
                    {
                        "field": [*where, "locationId"],
                        "code": "INVALID_LOCATION",
                        "message": "The specified location could not be found.",
                    }
                )
            elif q["changeFromQuantity"] != variant.available:
                errors.append(
                    {
                        "field": [*where, "changeFromQuantity"],
                        "code": "CHANGE_FROM_QUANTITY_STALE",
                        "message": "The specified compare quantity does not match the current "
                        "quantity.",
                    }
                )
            else:
                changes.append((variant, q["quantity"]))
        if errors:  # like Shopify: any user error means nothing was changed
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        for variant, quantity in changes:
            variant.available = quantity
        group = {
            "id": self.gid("InventoryAdjustmentGroup"),
            "reason": input["reason"],
            "createdAt": iso(datetime.now(UTC)),
            "referenceDocumentUri": input.get("referenceDocumentUri"),
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

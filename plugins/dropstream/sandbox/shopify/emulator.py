"""A strict local emulator of the Shopify Admin GraphQL API (the sandbox store, and the tests').

Real HTTP on 127.0.0.1 (ephemeral port), a real GraphQL schema (graphql-core, SDL in
``shopify_schema.graphql``) so unknown fields/arguments fail validation like the real API,
``X-Shopify-Access-Token`` auth, ``first`` and input arrays capped at 250, opaque cursors,
and the calculated-query-cost leaky bucket with ``extensions.cost`` on every response and a
``THROTTLED`` error when the bucket cannot pay. State lives in ``store.Store``. Each executed
request's log entry holds its ``requested`` and ``actual`` cost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute_sync,
    get_named_type,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

from dropstream.sandbox.http import Reply
from dropstream.sandbox.shopify import store as shopify_store
from dropstream.sandbox.shopify.store import FOLine, FulfillmentOrder, Line, Order, Store, Variant
from dropstream.sandbox.shopify.webhooks import ShopWebhooks
from dropstream.sandbox.strict import StrictEmulator, TokenBucket

SCHEMA = build_schema((Path(__file__).with_name("schema.graphql")).read_text())
PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
MAX_QUERY_COST = 1000
MAX_INPUT_SIZE = shopify_store.MAX_PAGE
INVALID_TOKEN = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}


class QueryCost:
    """Shopify-like calculated cost: objects 1, scalars 0, connections 2 + first x node cost,
    mutations 10. Also enforces ``first`` <= 250 and list inputs <= 250 before execution."""

    def __init__(self, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.errors: list[str] = []

    def operation(self, op: OperationDefinitionNode) -> int:
        if op.operation == OperationType.MUTATION:
            self._check_inputs(self.variables)
            return 10 * len(op.selection_set.selections)
        assert SCHEMA.query_type is not None
        return self.selections(SCHEMA.query_type, op.selection_set)

    def _check_inputs(self, value: Any) -> None:
        if isinstance(value, list):
            if len(value) > MAX_INPUT_SIZE:
                self.errors.append(
                    f"The input array size of {len(value)} is greater than the "
                    f"maximum allowed of {MAX_INPUT_SIZE}."
                )
            for item in value:
                self._check_inputs(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._check_inputs(item)

    def selections(self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += self.field(parent, sel)
            elif isinstance(sel, InlineFragmentNode):
                total += self.selections(parent, sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                total += self.selections(parent, self.fragments[sel.name.value].selection_set)
        return total

    def field(self, parent: GraphQLObjectType, node: FieldNode) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        arguments = node.arguments or ()
        args = {a.name.value: value_from_ast_untyped(a.value, self.variables) for a in arguments}
        for value_node in (a.value for a in arguments):
            if isinstance(value_node, ListValueNode) and len(value_node.values) > MAX_INPUT_SIZE:
                self.errors.append(
                    f"The input array size of {len(value_node.values)} is greater "
                    f"than the maximum allowed of {MAX_INPUT_SIZE}."
                )
        if not isinstance(named, GraphQLObjectType):
            return 0
        first = args.get("first")
        if first is not None and not 0 <= first <= shopify_store.MAX_PAGE:
            self.errors.append(
                f"The `first` argument of `{node.name.value}` must be between 0 "
                f"and {shopify_store.MAX_PAGE}, got {first}."
            )
        if named.name.endswith("Connection"):
            node_type = get_named_type(named.fields["nodes"].type)
            per_node = 0
            for sel in node.selection_set.selections if node.selection_set else ():
                if isinstance(sel, FieldNode) and sel.name.value == "nodes":
                    per_node += 1 + self.selections(node_type, sel.selection_set)
                elif isinstance(sel, FieldNode) and sel.name.value == "edges":
                    for inner in sel.selection_set.selections if sel.selection_set else ():
                        if isinstance(inner, FieldNode) and inner.name.value == "node":
                            per_node += 1 + self.selections(node_type, inner.selection_set)
            return 2 + (first or 0) * per_node
        return max(first or 1, 1) * (1 + self.selections(named, node.selection_set))


class ShopifyEmulator(StrictEmulator):
    """The emulated shop: seed it, point an adapter at ``url`` with ``token``, inspect it after."""

    raw_target = True
    content_type = "application/json; charset=utf-8"
    json_default = None

    def __init__(
        self,
        *,
        token: str = "shpat_emulator_token",
        restore_rate: float = 1000.0,
        maximum_available: float = 1000.0,
        throttle_status: int = 200,
        port: int = 0,
        client_secret: str = "shpss_emulator_secret",
        webhook_time_scale: float = 1.0,
        allow_http_webhooks: bool = False,
        webhook_workers: int = 8,
    ) -> None:
        super().__init__(port=port)
        self.token = token
        self.api_version = "2026-10"  # the version of the last request (webhooks use it)
        # The app's API secret key: Shopify signs every webhook with it.
        self.webhooks = ShopWebhooks(
            client_secret,
            lambda: self.api_version,
            time_scale=webhook_time_scale,
            allow_http=allow_http_webhooks,
            workers=webhook_workers,  # concurrent deliveries, as Shopify makes them
        )
        self.store = Store()
        self.bucket = TokenBucket(maximum_available, restore_rate)  # points, points per second
        self.throttle_status = throttle_status  # Shopify answers THROTTLED with 200 (or 429)
        self.throttled_count = 0

    @property
    def restore_rate(self) -> float:
        return self.bucket.rate

    @property
    def maximum_available(self) -> float:
        return self.bucket.capacity

    # --- seeding and inspection -------------------------------------------------------------
    def add_order(
        self,
        number: int | None = None,
        *,
        updated_at: datetime | None = None,
        created_at: datetime | None = None,
        lines: Sequence[tuple[str, int, str]] = (("SKU-1", 1, "10.00"),),
        address: dict[str, Any] | None = None,
        financial_status: str = "PAID",
        email: str = "buyer@example.com",
        currency: str = "USD",
        shipping_line: dict[str, Any] | None = None,
        closed: bool = False,
        tags: Sequence[str] = (),
        digital_skus: Collection[str] = (),
        gift_card_skus: Collection[str] = (),
    ) -> str:
        """Seed an order (lines are (sku, quantity, unit price)); returns its gid.

        Lines of ``digital_skus`` need no shipping; lines of ``gift_card_skus`` are gift cards
        (which need no shipping either)."""
        s = self.store
        order_id = s.gid("Order")
        number = number if number is not None else 1000 + len(s.orders) + 1
        when = updated_at or datetime.now(UTC)
        order_lines = [
            Line(
                s.gid("LineItem"),
                sku,
                qty,
                Decimal(price),
                requires_shipping=sku not in digital_skus and sku not in gift_card_skus,
                gift_card=sku in gift_card_skus,
            )
            for sku, qty, price in lines
        ]
        fo = FulfillmentOrder(
            s.gid("FulfillmentOrder"),
            "OPEN",
            [FOLine(s.gid("FulfillmentOrderLineItem"), ln, ln.quantity) for ln in order_lines],
        )
        s.orders[order_id] = Order(
            id=order_id,
            number=number,
            created_at=created_at or when,
            updated_at=when,
            email=email,
            currency=currency,
            financial_status=financial_status,
            address=address
            if address is not None
            else {
                "name": "Ada Buyer",
                "firstName": "Ada",
                "lastName": "Buyer",
                "company": None,
                "address1": "1 Main St",
                "address2": None,
                "city": "Springfield",
                "province": "Oregon",
                "provinceCode": "OR",
                "zip": "97477",
                "country": "United States",
                "countryCodeV2": "US",
                "phone": None,
            },
            shipping_line=shipping_line
            if shipping_line is not None
            else {
                "title": "Standard",
                "code": "STANDARD",
                "carrierIdentifier": None,
                "source": "shopify",
            },
            lines=order_lines,
            fulfillment_orders=[fo],
            closed=closed,
            tags=list(tags),
        )
        self.webhooks.order_event("orders/create", s.orders[order_id])
        return order_id

    def order(self, order_id: str) -> Order:
        return self.store.orders[order_id]

    def stop(self) -> None:
        self.webhooks.sender.stop()
        super().stop()

    def cancel_order(
        self, order_id: str, *, reason: str = "CUSTOMER", at: datetime | None = None
    ) -> None:
        """Cancel an order as the merchant's admin (orderCancel) does; at ``at`` (default now)."""
        errors = self.store.cancel(order_id, reason, at=at)
        if errors:
            raise ValueError(f"Shopify refuses to cancel {order_id}: {errors[0]['message']}")
        self.webhooks.order_event("orders/cancelled", self.store.orders[order_id])

    def _order_cancel(self, info: Any, orderId: str, **arguments: Any) -> dict[str, Any]:  # noqa: N803 - GraphQL argument name
        """The ``orderCancel`` mutation; a cancelled order also sends ``orders/cancelled``."""
        answer: dict[str, Any] = self.store.order_cancel(info, orderId, **arguments)
        if not answer["orderCancelUserErrors"]:
            self.webhooks.order_event("orders/cancelled", self.store.orders[orderId])
        return answer

    def add_variant(self, sku: str, available: int = 0) -> str:
        variant = Variant(
            self.store.gid("ProductVariant"), sku, self.store.gid("InventoryItem"), available
        )
        self.store.variants.append(variant)
        return variant.id

    @property
    def inventory(self) -> dict[str, int]:
        return {v.sku: v.available for v in self.store.variants}

    @property
    def fulfillments(self) -> list[dict[str, Any]]:
        return self.store.fulfillments

    @property
    def scopes(self) -> list[str]:
        return self.store.scopes

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        self.store.scopes = list(value)

    def calls(self, root_field: str) -> int:
        """How many executed (not throttled/failed) requests asked for ``root_field``."""
        return sum(1 for r in self.requests if r["executed"] and root_field in r["fields"])

    def set_restore_rate(self, rate: float) -> None:
        self.bucket.set(rate=rate)

    def drain_bucket(self, to: float = 0.0) -> None:
        self.bucket.set(available=to)

    def on_next_lookup(self, callback: Any) -> None:
        """Run ``callback`` right after the next productVariants read (a concurrent change)."""
        self.store.after_lookup.append(callback)

    # --- request handling -------------------------------------------------------------------
    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum_available,
                "currentlyAvailable": int(self.bucket.available),
                "restoreRate": self.restore_rate,
            },
        }

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        log: dict[str, Any] = {"method": method, "path": path, "fields": [], "executed": False}
        return self.answer(log, lambda: (*self._handle(method, path, headers, body, log), {}))

    def crash_reply(self, exc: Exception) -> Reply:
        return 500, {"errors": f"emulator crashed: {exc!r}"}, {}

    def _handle(
        self, method: str, path: str, headers: Any, body: bytes, log: dict[str, Any]
    ) -> tuple[int, dict]:
        if not (match := PATH.match(path)):
            return 404, {"errors": "Not Found"}
        if method != "POST":
            return 405, {"errors": "Method Not Allowed"}
        if headers.get("X-Shopify-Access-Token") != self.token:
            return 401, INVALID_TOKEN
        if failure := self.next_failure():
            return failure[0], {
                "errors": "Internal error. Looks like something went wrong on our end."
            }  # noqa: E501
        if "application/json" not in (headers.get("Content-Type") or ""):
            return 415, {"errors": "Content-Type must be application/json"}
        try:
            request = json.loads(body)
            document = parse(request["query"])
        except (ValueError, KeyError, TypeError, GraphQLError) as exc:
            return 400, {"errors": [{"message": f"Parse error: {exc}"}]}
        variables = request.get("variables") or {}
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        log["fields"] = [
            s.name.value
            for op in ops
            for s in op.selection_set.selections
            if isinstance(s, FieldNode)
        ]
        errors = validate(SCHEMA, document)
        if errors:
            return 200, {"errors": [e.formatted for e in errors]}
        cost = QueryCost(document, variables)
        requested = sum(cost.operation(op) for op in ops)
        with self._lock:
            if cost.errors:
                return 200, {
                    "errors": [
                        {"message": m, "extensions": {"code": "BAD_REQUEST"}} for m in cost.errors
                    ]
                }
            if requested > MAX_QUERY_COST:
                return 200, {
                    "errors": [
                        {
                            "message": f"Query cost is {requested}, which exceeds the "
                            f"single query max cost limit ({MAX_QUERY_COST}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED"},
                        }
                    ],
                    "extensions": {"cost": self._cost(requested, None)},
                }
            if self.bucket.available < requested:
                self.throttled_count += 1
                return self.throttle_status, {
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": {"cost": self._cost(requested, None)},
                }
            self.api_version = match.group(1)
            root = {
                **self.store.root(),
                **self.webhooks.root(),
                "orderCancel": self._order_cancel,
            }
            result = execute_sync(SCHEMA, document, root_value=root, variable_values=variables)
            if "productVariants" in log["fields"]:
                callbacks, self.store.after_lookup[:] = list(self.store.after_lookup), []
                for callback in callbacks:
                    callback()
            actual = min(requested, max(1, _count_objects(result.data)))
            self.bucket.take(actual)  # requested <= available: the refund leaves it paid
            log.update(executed=True, requested=requested, actual=actual)
            payload: dict[str, Any] = {
                "data": result.data,
                "extensions": {"cost": self._cost(requested, actual)},
            }
            if result.errors:
                payload["errors"] = [e.formatted for e in result.errors]
            return 200, payload


def _count_objects(data: Any) -> int:
    """Actual cost: the objects actually returned (Shopify refunds the unused part)."""
    if isinstance(data, dict):
        return 1 + sum(_count_objects(v) for v in data.values())
    if isinstance(data, list):
        return sum(_count_objects(v) for v in data)
    return 0


def shopify_connection_json(emulator: ShopifyEmulator, **extra: Any) -> str:
    """The value for ``AIRFLOW_CONN_<ID>`` (Airflow parses JSON connections from env vars)."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": emulator.url,
            "password": emulator.token,
            "extra": {"api_version": "2026-10", **extra},
        }
    )

"""Shipments -> Shopify fulfillments, idempotent by tracking number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.allocation import OpenLine, allocate
from adapters.results import Rejected, push_each
from adapters.shopify import queries as q
from adapters.shopify.client import ShopifyClient
from dropstream.models import PushResult, Shipment

FULFILLABLE = {"OPEN", "IN_PROGRESS"}


def push_shipments(client: ShopifyClient, shipments: Sequence[Shipment]) -> PushResult:
    """One fulfillment per shipment; a tracking number already on the order counts as done."""
    return push_each(shipments, lambda s: _push_one(client, s), key=lambda s: s.key)


def _push_one(client: ShopifyClient, shipment: Shipment) -> str:
    if not shipment.order_id:
        raise Rejected(f"order {shipment.order_number}: Shopify order id unknown")
    order = client.graphql(q.FULFILLMENT_TARGETS, {"id": shipment.order_id})["order"]
    if order is None:
        raise Rejected(f"order {shipment.order_number} ({shipment.order_id}) not found in store")
    for existing in order["fulfillments"]:
        # Already pushed (e.g. a retry after a crash between create and our ledger write).
        if any(t.get("number") == shipment.tracking_number for t in existing["trackingInfo"]):
            return str(existing["id"])
    groups = _allocate(shipment, order["fulfillmentOrders"]["nodes"])
    tracking = {"company": shipment.carrier, "number": shipment.tracking_number}
    if shipment.tracking_url:
        tracking["url"] = shipment.tracking_url
    fulfillment = {
        "notifyCustomer": True,
        "trackingInfo": tracking,
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": items}
            for fo_id, items in groups.items()
        ],
    }
    result = client.graphql(q.FULFILLMENT_CREATE, {"fulfillment": fulfillment})
    payload = result["fulfillmentCreate"]
    if payload["userErrors"] or not payload.get("fulfillment"):
        messages = "; ".join(e["message"] for e in payload["userErrors"]) or "no fulfillment made"
        raise Rejected(f"Shopify refused the fulfillment: {messages}")
    return str(payload["fulfillment"]["id"])


def _allocate(shipment: Shipment, fulfillment_orders: list[dict[str, Any]]) -> dict[str, list]:
    """Spread each shipped line over open fulfillment-order lines, capped by what remains."""
    open_lines = [
        OpenLine(
            item["id"],
            item["lineItem"]["id"],
            item["sku"],
            int(item["remainingQuantity"]),
            fo["id"],
        )
        for fo in fulfillment_orders
        if fo["status"] in FULFILLABLE
        for item in fo["lineItems"]["nodes"]
    ]
    takes = allocate(
        shipment,
        open_lines,
        unmatched=lambda line: (
            f"order {shipment.order_number}: no open fulfillment line for "
            f"{line.line_id or 'SKU ' + line.sku}"
        ),
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for take in takes:  # fulfillment order id -> its lines in this fulfillment
        groups.setdefault(take.line.ref, []).append({"id": take.line.id, "quantity": take.quantity})
    if not groups:
        raise Rejected(
            f"order {shipment.order_number}: nothing left to fulfil (already fulfilled or on hold?)"
        )
    return groups

"""Shipments -> Shopify fulfillments, idempotent by tracking number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.shopify import queries as q
from adapters.shopify.client import ShopifyClient
from dropstream.models import PushResult, Shipment

FULFILLABLE = {"OPEN", "IN_PROGRESS"}


class Rejected(Exception):
    """This shipment cannot be pushed; the message says why."""


def push_shipments(client: ShopifyClient, shipments: Sequence[Shipment]) -> PushResult:
    """One fulfillment per shipment; a tracking number already on the order counts as done."""
    accepted: list[str] = []
    rejected: list[tuple[str, str]] = []
    details: dict[str, str] = {}
    for shipment in shipments:
        try:
            details[shipment.key] = _push_one(client, shipment)
            accepted.append(shipment.key)
        except Rejected as exc:
            rejected.append((shipment.key, str(exc)))
    return PushResult(accepted=tuple(accepted), rejected=tuple(rejected), details=details)


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
    remaining: dict[str, int] = {}
    candidates: list[tuple[str, dict[str, Any]]] = []
    for fo in fulfillment_orders:
        if fo["status"] in FULFILLABLE:
            for item in fo["lineItems"]["nodes"]:
                candidates.append((fo["id"], item))
                remaining[item["id"]] = int(item["remainingQuantity"])
    groups: dict[str, list[dict[str, Any]]] = {}
    for line in shipment.lines:
        matches = [
            (fo_id, item)
            for fo_id, item in candidates
            if (item["lineItem"]["id"] == line.line_id if line.line_id else item["sku"] == line.sku)
        ]
        if not matches:
            raise Rejected(
                f"order {shipment.order_number}: no open fulfillment line for "
                f"{line.line_id or 'SKU ' + line.sku}"
            )
        wanted = line.quantity
        for fo_id, item in matches:
            take = min(wanted, remaining[item["id"]])
            if take > 0:
                groups.setdefault(fo_id, []).append({"id": item["id"], "quantity": take})
                remaining[item["id"]] -= take
                wanted -= take
    if not groups:
        raise Rejected(
            f"order {shipment.order_number}: nothing left to fulfil (already fulfilled or on hold?)"
        )
    return groups

"""Shipments -> WooCommerce: Shipment Tracking extension when present, else a customer note.

Per shipment: read the order (lines, status, what DropStream already shipped, kept in order
meta ``dropstream_shipments``), read the order's trackings or notes for this tracking number
(so a retry after a crash adds nothing twice), add the tracking or note, then write the meta
and, once every line is fully shipped, ``status: completed``. Partial shipments only add.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.allocation import OpenLine, allocate, totals
from adapters.results import Rejected, push_each
from adapters.woocommerce.client import API, NO_ROUTE, TRACKING_API, WooClient, WooNotFound
from dropstream.errors import ConfigurationError, UpstreamRejectedError
from dropstream.models import PushResult, Shipment

META_KEY = "dropstream_shipments"  # {tracking number: {"lines": {line id: qty}, "ref": id}}
MODES = ("auto", "extension", "note")


@dataclass(slots=True)
class TrackingMode:
    """``auto`` until the first order tells us whether the extension's routes exist."""

    value: str = "auto"


def push_shipments(
    client: WooClient, shipments: Sequence[Shipment], mode: TrackingMode
) -> PushResult:
    return push_each(
        shipments,
        lambda s: _push_one(client, s, mode),
        key=lambda s: s.key,
        refused=(UpstreamRejectedError,),
    )


def _push_one(client: WooClient, shipment: Shipment, mode: TrackingMode) -> str:
    if not shipment.order_id:
        raise Rejected(f"order {shipment.order_number}: WooCommerce order id unknown")
    order = _read_order(client, shipment)
    meta = next((m for m in order.get("meta_data") or [] if m.get("key") == META_KEY), None)
    record: dict[str, Any] = json.loads(meta["value"]) if meta and meta.get("value") else {}
    if shipment.tracking_number in record:  # pushed and recorded by an earlier run
        return str(record[shipment.tracking_number].get("ref") or "")
    lines = _allocate(shipment, order, record)
    ref = _find_existing(client, shipment, mode) or _add(client, shipment, mode, lines, order)
    record[shipment.tracking_number] = {"lines": lines, "ref": ref}
    update: dict[str, Any] = {"meta_data": [{"key": META_KEY, "value": json.dumps(record)}]}
    shipped = _shipped(record)
    if order.get("status") != "completed" and all(
        shipped.get(str(item["id"]), 0) >= int(item["quantity"]) for item in order["line_items"]
    ):
        update["status"] = "completed"
    client.call("PUT", f"{API}/orders/{shipment.order_id}", json=update)
    return ref


def _read_order(client: WooClient, shipment: Shipment) -> dict[str, Any]:
    try:
        order, _ = client.call("GET", f"{API}/orders/{shipment.order_id}")
    except WooNotFound as exc:
        if exc.code == NO_ROUTE:
            raise
        raise Rejected(
            f"order {shipment.order_number} ({shipment.order_id}) not found in store"
        ) from exc
    return order


def _shipped(record: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in record.values():
        for line_id, quantity in entry["lines"].items():
            totals[line_id] = totals.get(line_id, 0) + int(quantity)
    return totals


def _allocate(shipment: Shipment, order: dict[str, Any], record: dict[str, Any]) -> dict[str, int]:
    """Order line id -> units in this package, capped by what is still unshipped."""
    shipped = _shipped(record)
    open_lines = [
        OpenLine(
            str(i["id"]),
            str(i["id"]),
            i.get("sku"),
            int(i["quantity"]) - shipped.get(str(i["id"]), 0),
        )
        for i in order.get("line_items") or []
    ]
    taken = totals(
        allocate(
            shipment,
            open_lines,
            unmatched=lambda line: (
                f"order {shipment.order_number}: no line {line.line_id or 'with SKU ' + line.sku}"
            ),
        )
    )
    if not taken:
        raise Rejected(f"order {shipment.order_number}: nothing left to ship (already shipped?)")
    return taken


def _find_existing(client: WooClient, shipment: Shipment, mode: TrackingMode) -> str:
    """The id of a tracking or note already carrying this tracking number, else ''."""
    number = shipment.tracking_number
    if mode.value != "note":
        path = f"{TRACKING_API}/orders/{shipment.order_id}/shipment-trackings"
        try:
            trackings, _ = client.call("GET", path)
        except WooNotFound as exc:
            if exc.code != NO_ROUTE:
                raise
            if mode.value == "extension":
                raise ConfigurationError(
                    f"{client.where}: tracking is 'extension' but the Shipment Tracking "
                    "extension is not installed; install it or set extra tracking to 'auto'"
                ) from exc
            mode.value = "note"
        else:
            mode.value = "extension"
            for tracking in trackings or []:
                if tracking.get("tracking_number") == number:
                    return str(tracking.get("tracking_id"))
            return ""
    notes, _ = client.call(
        "GET", f"{API}/orders/{shipment.order_id}/notes", params={"type": "customer"}
    )
    for note in notes or []:
        if number in str(note.get("note") or ""):
            return f"note:{note['id']}"
    return ""


def _add(
    client: WooClient,
    shipment: Shipment,
    mode: TrackingMode,
    lines: dict[str, int],
    order: dict[str, Any],
) -> str:
    if mode.value == "extension":
        body: dict[str, Any] = {"tracking_number": shipment.tracking_number}
        if shipment.tracking_url:
            body |= {
                "custom_tracking_provider": shipment.carrier,
                "custom_tracking_link": shipment.tracking_url,
            }
        else:
            body["tracking_provider"] = shipment.carrier
        if shipment.shipped_at:
            body["date_shipped"] = shipment.shipped_at.strftime("%Y-%m-%d")
        path = f"{TRACKING_API}/orders/{shipment.order_id}/shipment-trackings"
        created, _ = client.call("POST", path, json=body)
        return str(created["tracking_id"])
    skus = {str(i["id"]): i.get("sku") or i.get("name") or i["id"] for i in order["line_items"]}
    items = ", ".join(f"{qty} × {skus[line_id]}" for line_id, qty in lines.items())
    link = f" ({shipment.tracking_url})" if shipment.tracking_url else ""
    text = (
        f"Shipped with {shipment.carrier}{' ' + shipment.service if shipment.service else ''}: "
        f"tracking number {shipment.tracking_number}{link}. Items: {items}."
    )
    note, _ = client.call(
        "POST",
        f"{API}/orders/{shipment.order_id}/notes",
        json={"note": text, "customer_note": True},
    )
    return f"note:{note['id']}"

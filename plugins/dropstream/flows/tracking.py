"""Tracking: warehouse -> store, every 4 hours.

extract: read new shipment confirmations and record each package once (order + tracking no.);
transform: match them to the orders this connection sent (unknown order numbers are reported
and kept as ``unknown_order``, re-matched on later runs);
load: push each matched shipment once, record the store's fulfillment id, archive the files.

A crash between the push and its record leaves the shipment ``pushing``; the next run pushes it
again and the adapter recognises the tracking number already on the order, so no duplicate.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.base import StoreAdapter
from dropstream.flows.common import Step, archive_read_files, read_new_files
from dropstream.formats.base import FileFormat
from dropstream.models import Order, OrderLine, Shipment, ShipmentLine
from dropstream.transports.base import Transport

FLOW = "tracking"


def extract(step: Step, transport: Transport, file_format: FileFormat) -> dict[str, Any]:
    """Record every shipment in the shipment files not yet archived."""
    folder = step.spec.warehouse.paths.shipments
    files, new, bad = [], 0, 0

    def parse(stream, name, on_error):  # type: ignore[no-untyped-def]
        return file_format.read_shipments(stream, file_name=name, on_error=on_error)

    for remote, records, errors in read_new_files(
        step, transport, FLOW, folder, file_format.shipment_pattern, parse
    ):
        found = [r for r in records if isinstance(r, Shipment)]
        new += step.ledger.record_shipments(step.name, found, remote.name, step.now)
        files.append(remote.name)
        bad += len(errors)
    return {"files": files, "new_shipments": new, "bad_records": bad}


def _match_lines(shipment: Shipment, order: Order) -> tuple[ShipmentLine, ...]:
    """Fill each shipped line's store line id: by line number when it agrees, else by SKU."""
    by_number = {line.line_number: line for line in order.lines}
    by_sku: dict[str, OrderLine] = {}
    for line in order.lines:
        by_sku.setdefault(line.sku, line)
    matched = []
    for shipped in shipment.lines:
        found = by_number.get(shipped.line_number) if shipped.line_number is not None else None
        if found is None or found.sku != shipped.sku:
            found = by_sku.get(shipped.sku)
        matched.append(replace(shipped, line_id=found.line_id if found else ""))
    return tuple(matched)


def transform(step: Step) -> dict[str, Any]:
    """Match received (and earlier unknown) shipments to the orders in the ledger."""
    pending = step.ledger.shipments_in_state(step.name, "received", "unknown_order")
    known = step.ledger.orders_by_number(step.name, {s.order_number for s, _ in pending})
    matched = unknown = 0
    for shipment, state in pending:
        if shipment.order_number not in known:
            unknown += 1
            if state == "received":
                step.log.warning(
                    "connection %s: shipment %s (tracking %s) is for order %s, "
                    "which this connection "
                    "never sent to the warehouse; recorded as unknown_order and retried next run",
                    step.name,
                    shipment.key,
                    shipment.tracking_number,
                    shipment.order_number,
                )
                step.ledger.set_shipment_state(
                    step.name,
                    shipment,
                    "unknown_order",
                    step.now,
                    reason="order number not in the ledger",
                )
            continue
        order, _ = known[shipment.order_number]
        ready = replace(shipment, order_id=order.order_id, lines=_match_lines(shipment, order))
        step.ledger.set_shipment_state(
            step.name, ready, "ready", step.now, from_states=("received", "unknown_order")
        )
        matched += 1
    return {"matched": matched, "unknown_order": unknown}


def load(step: Step, adapter: StoreAdapter, transport: Transport) -> dict[str, Any]:
    """Push every matched shipment once; then archive the shipment files read."""
    todo = [s for s, _ in step.ledger.shipments_in_state(step.name, "ready", "pushing")]
    for shipment in todo:
        step.ledger.set_shipment_state(step.name, shipment, "pushing", step.now)
    pushed = rejected = 0
    if todo:
        result = adapter.push_shipments(todo)
        by_key = {s.key: s for s in todo}
        for key in result.accepted:
            step.ledger.set_shipment_state(
                step.name, by_key[key], "pushed", step.now, platform_id=result.details.get(key, "")
            )
            pushed += 1
        shipped = [(by_key[key].order_id, "shipped", "", None) for key in result.accepted]
        step.ledger.set_order_states(
            step.name, shipped, step.now, from_states=("published", "shipped")
        )
        for key, reason in result.rejected:
            step.ledger.set_shipment_state(
                step.name, by_key[key], "rejected", step.now, reason=reason
            )
            step.log.warning("connection %s: store refused shipment %s: %s", step.name, key, reason)
            rejected += 1
    archived = archive_read_files(step, transport, FLOW, step.spec.warehouse.paths.shipments)
    return {"pushed": pushed, "rejected": rejected, "archived": len(archived)}

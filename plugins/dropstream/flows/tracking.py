"""Tracking: warehouse -> store, every 4 hours.

extract: read the shipment confirmations in the shipments folder and hand each package to the
connection that sent its order: the one whose ledger holds an order sent under that number
(``rules.order_number_prefix`` included), among every connection sharing the folder. The
package is recorded under that connection, with the store's own order number (the prefix taken
off). A package no sharing connection sent is kept once, as ``unknown_order``, under the
folder's key, reported once, and handed over on a later run if its order turns up;
transform: match this connection's packages to its orders' lines (``ready``);
load: push each ready package once, record the store's fulfillment id, archive the files read.

Under the connection's tracking lease only one run pushes at a time; each package moves
``ready`` -> ``pushing`` -> ``pushed`` only from the state it is expected in. A crash between
the push and its record leaves it ``pushing``; the next run pushes it again and the adapter
recognises the tracking number already on the order, so no duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from dropstream.flows.common import FolderFlow, Summary, archive_read_files, read_new_files
from dropstream.flows.context import RunContext, SharedFolder
from dropstream.formats.base import FileFormat
from dropstream.models import Order, OrderLine, Shipment, ShipmentLine
from dropstream.rules.bundles import bundle_shipment_lines
from dropstream.stores import StoreAdapter
from dropstream.transports.base import RemoteFile, Transport

FLOW = "tracking"


def extract(
    ctx: RunContext, transport: Transport, file_format: FileFormat, folder: SharedFolder
) -> dict[str, Any]:
    """Record every package in the folder's shipment files under the connection that sent it."""
    counts = {"new_shipments": 0, "for_other_connections": 0, "unknown_order": 0}

    def keep(remote: RemoteFile, records: list[Shipment]) -> None:
        found = [r for r in records if isinstance(r, Shipment)]
        senders = _senders(ctx, folder, found)
        owned: dict[str, list[Shipment]] = {}
        unclaimed = []
        for shipment in found:
            claim = _claim(senders, shipment)
            if claim is None:
                unclaimed.append(shipment)
            else:
                owned.setdefault(claim[0], []).append(claim[1])
        for owner, shipments in owned.items():
            new = ctx.ledger.record_shipments(owner, shipments, remote.name, ctx.now, run=ctx.run)
            counts["new_shipments" if owner == ctx.name else "for_other_connections"] += len(new)
        for shipment in ctx.ledger.record_shipments(
            folder.key,
            unclaimed,
            remote.name,
            ctx.now,
            state="unknown_order",
            reason="no connection sharing the folder sent this order",
            run=ctx.run,
        ):
            counts["unknown_order"] += 1
            _report_unknown(ctx, folder, shipment, remote.name, senders)

    files, bad = read_new_files(
        ctx,
        transport,
        FLOW,
        folder,
        file_format.shipment_pattern,
        file_format.read_shipments,
        keep,
    )
    return {"files": files, **counts, "bad_records": bad}


Senders = dict[str, list[tuple[str, str, str]]]


def _senders(ctx: RunContext, folder: SharedFolder, shipments: Iterable[Shipment]) -> Senders:
    """Who sent orders under these numbers, among the connections sharing the folder."""
    return ctx.ledger.orders_sent_as(folder.members, {s.order_number for s in shipments})


def _claim(senders: Senders, shipment: Shipment) -> tuple[str, Shipment] | None:
    """``(connection, package with the store's order number)`` when exactly one connection
    sent its order; None when none did (or two did: a prefix conflict)."""
    found = senders.get(shipment.order_number, [])
    if len(found) != 1:
        return None
    owner, _order_id, number = found[0]
    return owner, replace(shipment, order_number=number)


def _report_unknown(
    ctx: RunContext, folder: SharedFolder, shipment: Shipment, file: str, senders: Senders
) -> None:
    sent_by = senders.get(shipment.order_number, [])
    if sent_by:
        names = " and ".join(f"'{c}'" for c, _, _ in sent_by)
        why = f"was sent by {names}: give each its own rules.order_number_prefix"
    elif folder.shared:
        why = f"none of the connections sharing the folder ({', '.join(folder.members)}) sent"
    else:
        why = "this connection never sent"
    ctx.log.warning(
        "connection %s: %s in %s: shipment %s (tracking %s) is for order %s, which %s; kept as "
        "unknown_order and matched again on later runs",
        ctx.name,
        file,
        folder.path,
        shipment.key,
        shipment.tracking_number,
        shipment.order_number,
        why,
    )


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


def transform(ctx: RunContext, folder: SharedFolder) -> dict[str, Any]:
    """Hand over packages whose order has turned up; match this connection's to its orders."""
    handed = 0
    holders = tuple(dict.fromkeys((folder.key, ctx.name)))
    for holder in holders:
        waiting = [s for s, _ in ctx.ledger.shipments_in_state(holder, "unknown_order")]
        senders = _senders(ctx, folder, waiting)
        for shipment in waiting:
            claim = _claim(senders, shipment)
            if claim is not None:
                owner, claimed = claim
                handed += ctx.ledger.hand_over_shipment(
                    holder, shipment.key, owner, claimed, ctx.now, run=ctx.run
                )
    pending = [s for s, _ in ctx.ledger.shipments_in_state(ctx.name, "received")]
    known = ctx.ledger.orders_by_number(ctx.name, {s.order_number for s in pending})
    matched = 0
    for shipment in pending:
        if shipment.order_number not in known:
            continue
        order, _ = known[shipment.order_number]
        # Components of a bundle close the bundle line (rules.bundles), in whole bundles.
        lines, notes = bundle_shipment_lines(_match_lines(shipment, order), order.lines)
        for note in notes:
            ctx.log.warning("connection %s: shipment %s: %s", ctx.name, shipment.key, note)
        ready = replace(shipment, order_id=order.order_id, lines=tuple(lines))
        matched += ctx.ledger.set_shipment_state(
            ctx.name, ready, "ready", ctx.now, expected=("received",)
        )
    unknown = sum(len(ctx.ledger.shipments_in_state(h, "unknown_order")) for h in holders)
    return {"handed_over": handed, "matched": matched, "unknown_order": unknown}


def load(
    ctx: RunContext, adapter: StoreAdapter, transport: Transport, folder: SharedFolder
) -> dict[str, Any]:
    """Push every matched package once (under the lease); then archive the files read."""
    pushed = rejected = 0
    with ctx.ledger.lease(ctx.name, FLOW, run=ctx.run) as lease:
        todo = [
            shipment
            for shipment, state in ctx.ledger.shipments_in_state(ctx.name, "ready", "pushing")
            if state == "pushing"  # pushed before, answer lost: the adapter sees its tracking
            or ctx.ledger.set_shipment_state(
                ctx.name, shipment, "pushing", ctx.now, expected=("ready",)
            )
        ]
        if todo:
            lease.confirm()
            result = adapter.push_shipments(todo)
            by_key = {s.key: s for s in todo}
            for key in result.accepted:
                pushed += ctx.ledger.set_shipment_state(
                    ctx.name,
                    by_key[key],
                    "pushed",
                    ctx.now,
                    expected=("pushing",),
                    platform_id=result.details.get(key, ""),
                    run=ctx.run,
                )
            shipped = [(by_key[key].order_id, "shipped", "", None) for key in result.accepted]
            ctx.ledger.set_order_states(
                ctx.name, shipped, ctx.now, from_states=("published", "shipped"), run=ctx.run
            )
            for key, reason in result.rejected:
                rejected += ctx.ledger.set_shipment_state(
                    ctx.name,
                    by_key[key],
                    "rejected",
                    ctx.now,
                    expected=("pushing",),
                    reason=reason,
                    run=ctx.run,
                )
                ctx.log.warning(
                    "connection %s: store refused shipment %s: %s", ctx.name, key, reason
                )
        archived = archive_read_files(ctx, transport, FLOW, folder)
    return {"pushed": pushed, "rejected": rejected, "archived": len(archived)}


class TrackingFlow(FolderFlow):
    """Tracking, warehouse -> store (the module's docstring)."""

    name = FLOW
    kind = "shipments"
    read_files = staticmethod(extract)
    push = staticmethod(load)

    def transform(self) -> Summary:
        return transform(self.ctx, self.folder)

"""Inventory: warehouse -> store, hourly.

extract: apply the snapshots a person approved; read new inventory snapshots (oldest first) and
keep, per SKU, the newest figure, for every connection sharing the inventory folder (the
warehouse's stock is every store's stock). A snapshot that would zero a large share of a store's
in-stock SKUs, or lists none of them, is a *suspect snapshot* for that connection: its figures
are not recorded, it is kept whole in the ledger and waits for a person (approve / reject in the
``dropstream_actions`` DAG) or for a newer snapshot that is not suspect;
transform: turn the warehouse's available figure into the quantity to publish (units in flight,
safety stock), and each bundle's into what its scarcest component allows;
load: push only quantities that differ from the last value pushed (under the connection's
inventory lease, one run at a time); archive the files read.
"""

from __future__ import annotations

from typing import Any

from dropstream.flows.common import FolderFlow, Summary, archive_read_files, read_new_files
from dropstream.flows.context import RunContext, SharedFolder
from dropstream.formats.base import FileFormat
from dropstream.models import InventoryLevel
from dropstream.rules.inventory import (
    bundle_targets,
    judge_snapshot,
    publishable_quantity,
    store_skus,
)
from dropstream.spec import Rules
from dropstream.stores import StoreAdapter
from dropstream.transports.base import RemoteFile, Transport

FLOW = "inventory"


def apply_approved(ctx: RunContext) -> list[str]:
    """Record the figures of every snapshot a person approved; return their file names."""
    applied = []
    for snapshot in ctx.ledger.suspect_snapshots(ctx.name, "approved"):
        name = snapshot["source_file"]
        levels = ctx.ledger.snapshot_levels(ctx.name, name)
        ctx.ledger.record_warehouse_levels(ctx.name, levels, name)
        if ctx.ledger.mark_snapshot_applied(ctx.name, name, ctx.now):
            applied.append(name)
            ctx.log.info(
                "connection %s: applied %s, approved by %s", ctx.name, name, snapshot["decided_by"]
            )
    return applied


def _guard_pct(ctx: RunContext, folder: SharedFolder, member: str) -> float:
    if member == ctx.name:
        return ctx.spec.rules.zero_out_guard_pct
    return dict(folder.guard_pcts).get(member, Rules().zero_out_guard_pct)


def extract(
    ctx: RunContext, transport: Transport, file_format: FileFormat, folder: SharedFolder
) -> dict[str, Any]:
    """Record the levels of every inventory file not yet archived, for every connection
    sharing the folder: the newest snapshot wins; a suspect snapshot is kept, not recorded."""
    levels = 0
    suspect: list[str] = []
    approved = apply_approved(ctx)

    def keep(remote: RemoteFile, records: list[InventoryLevel]) -> None:
        nonlocal levels
        as_of_default = remote.modified_at or ctx.now
        rows = [
            (level.sku, level.available, level.as_of or as_of_default)
            for level in records
            if isinstance(level, InventoryLevel)
        ]
        snapshot = {sku: max(available, 0) for sku, available, _ in rows}
        for member in folder.members:
            published = ctx.ledger.published_quantities(member)
            verdict = judge_snapshot(published, snapshot, _guard_pct(ctx, folder, member))
            if verdict.suspect:
                _keep_suspect(ctx, member, remote.name, rows, verdict.reason)
                if member == ctx.name:
                    suspect.append(remote.name)
                continue
            ctx.ledger.record_warehouse_levels(member, rows, remote.name)
            if rows:
                newest = max(when for _, _, when in rows)
                ctx.ledger.supersede_snapshots(member, newest, ctx.now, by_file=remote.name)
        levels += len(rows)

    files, bad = read_new_files(
        ctx,
        transport,
        FLOW,
        folder,
        file_format.inventory_pattern,
        file_format.read_inventory,
        keep,
    )
    shared = {"for_connections": list(folder.members)} if folder.shared else {}
    return {
        "files": files,
        "levels": levels,
        **shared,
        "bad_records": bad,
        "suspect_files": suspect,
        "approved_applied": approved,
    }


def _keep_suspect(
    ctx: RunContext, member: str, name: str, rows: list[tuple[Any, ...]], reason: str
) -> None:
    new = ctx.ledger.keep_suspect_snapshot(member, name, rows, reason, ctx.now, run=ctx.run)
    if new:
        ctx.log.error(
            "connection %s: inventory file %s is a suspect snapshot and was not pushed: it %s. "
            "Check the file with the warehouse, then approve it (push it on the next run) or "
            "reject it in the dropstream_actions DAG (approve_snapshot / reject_snapshot); a "
            "newer snapshot that is not suspect replaces it",
            member,
            name,
            reason,
        )


def transform(ctx: RunContext) -> dict[str, Any]:
    """Compute the quantity to publish for every SKU the warehouse has reported, and for every
    bundle from its components."""
    rules = ctx.spec.rules
    in_flight = ctx.ledger.in_flight_units(ctx.name) if rules.subtract_in_flight else {}
    reported = {
        row["sku"]: row["warehouse_available"]
        for row in ctx.ledger.warehouse_levels(ctx.name)
        if row["warehouse_available"] is not None
    }
    targets = {
        sku: publishable_quantity(available, rules, in_flight.get(sku, 0))
        for sku, available in reported.items()
    }
    bundles = bundle_targets(rules, reported, in_flight)
    ctx.ledger.set_targets(ctx.name, targets)
    ctx.ledger.set_bundle_targets(ctx.name, bundles)
    waiting = ctx.ledger.suspect_snapshots(ctx.name)
    return {
        "skus": len(targets),
        "bundles": len(bundles),
        "to_push": len(ctx.ledger.inventory_to_push(ctx.name)),
        "suspect_snapshots": [s["source_file"] for s in waiting],
    }


def load(
    ctx: RunContext, adapter: StoreAdapter, transport: Transport, folder: SharedFolder
) -> dict[str, Any]:
    """Push changed quantities, record what the store accepted, then archive the files read."""
    with ctx.ledger.lease(ctx.name, FLOW, run=ctx.run) as lease:
        to_push = ctx.ledger.inventory_to_push(ctx.name)
        to_store = store_skus(ctx.spec.rules)
        by_store_sku = {to_store.get(sku, sku): sku for sku in to_push}
        levels = [
            InventoryLevel(sku=store_sku, available=to_push[sku])
            for store_sku, sku in sorted(by_store_sku.items())
        ]
        accepted: dict[str, int] = {}
        rejected: list[tuple[str, str]] = []
        if levels:
            lease.confirm()
            result = adapter.push_inventory(levels)
            accepted = {by_store_sku[key]: to_push[by_store_sku[key]] for key in result.accepted}
            rejected = list(result.rejected)
            ctx.ledger.record_inventory_pushed(ctx.name, accepted, ctx.now)
        for sku, reason in rejected:
            ctx.log.warning(
                "connection %s: store refused quantity for SKU %s: %s", ctx.name, sku, reason
            )
        archived = archive_read_files(ctx, transport, FLOW, folder)
    return {"pushed": len(accepted), "rejected": len(rejected), "archived": len(archived)}


class InventoryFlow(FolderFlow):
    """Inventory, warehouse -> store (the module's docstring)."""

    name = FLOW
    kind = "inventory"
    read_files = staticmethod(extract)
    push = staticmethod(load)

    def transform(self) -> Summary:
        return transform(self.ctx)

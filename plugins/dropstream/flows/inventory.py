"""Inventory: warehouse -> store, hourly.

extract: read new inventory snapshots (oldest first) and keep, per SKU, the newest figure, for
every connection sharing the inventory folder (the warehouse's stock is every store's stock);
transform: turn the warehouse's available figure into the quantity to publish (safety stock);
load: push only quantities that differ from the last value pushed (under the connection's
inventory lease, one run at a time); archive the files read.
"""

from __future__ import annotations

from typing import Any

from dropstream.flows.common import SharedFolder, Step, archive_read_files, read_new_files
from dropstream.formats.base import FileFormat
from dropstream.models import InventoryLevel
from dropstream.rules.inventory import publishable_quantity, store_skus
from dropstream.stores import StoreAdapter
from dropstream.transports.base import RemoteFile, Transport

FLOW = "inventory"


def extract(
    step: Step, transport: Transport, file_format: FileFormat, folder: SharedFolder
) -> dict[str, Any]:
    """Record the levels of every inventory file not yet archived, for every connection
    sharing the folder: the newest snapshot wins."""
    levels = 0

    def parse(stream, name, on_error):  # type: ignore[no-untyped-def]
        return file_format.read_inventory(stream, file_name=name, on_error=on_error)

    def keep(remote: RemoteFile, records: list[InventoryLevel]) -> None:
        nonlocal levels
        as_of_default = remote.modified_at or step.now
        rows = [
            (level.sku, level.available, level.as_of or as_of_default)
            for level in records
            if isinstance(level, InventoryLevel)
        ]
        for member in folder.members:
            step.ledger.record_warehouse_levels(member, rows, remote.name)
        levels += len(rows)

    files, bad = read_new_files(
        step, transport, FLOW, folder, file_format.inventory_pattern, parse, keep
    )
    shared = {"for_connections": list(folder.members)} if folder.shared else {}
    return {"files": files, "levels": levels, **shared, "bad_records": bad}


def transform(step: Step) -> dict[str, Any]:
    """Compute the quantity to publish for every SKU the warehouse has reported."""
    targets = {
        row["sku"]: publishable_quantity(row["warehouse_available"], step.spec.rules)
        for row in step.ledger.warehouse_levels(step.name)
        if row["warehouse_available"] is not None
    }
    step.ledger.set_targets(step.name, targets)
    return {"skus": len(targets), "to_push": len(step.ledger.inventory_to_push(step.name))}


def load(
    step: Step, adapter: StoreAdapter, transport: Transport, folder: SharedFolder
) -> dict[str, Any]:
    """Push changed quantities, record what the store accepted, then archive the files read."""
    with step.ledger.lease(step.name, FLOW, run=step.run) as lease:
        to_push = step.ledger.inventory_to_push(step.name)
        to_store = store_skus(step.spec.rules)
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
            step.ledger.record_inventory_pushed(step.name, accepted, step.now)
        for sku, reason in rejected:
            step.log.warning(
                "connection %s: store refused quantity for SKU %s: %s", step.name, sku, reason
            )
        archived = archive_read_files(step, transport, FLOW, folder)
    return {"pushed": len(accepted), "rejected": len(rejected), "archived": len(archived)}

"""Stock reconciliation: the store's stock vs the last warehouse snapshot vs the ledger.

One row per SKU from three sources, joined with pandas:

- **warehouse**: the newest snapshot the inventory flow recorded (``ds_inventory``: available,
  as of, file), and the quantity it means for the store after safety stock (``target``);
- **ledger**: what DropStream last pushed (``pushed``, when) and the units *in flight* — in
  orders sent towards the warehouse (``ready``, ``in_file``, ``published``) and not shipped yet,
  which the store has already taken off its stock and the warehouse has not;
- **store**: the available quantity the store reports now (read-only, the push's own lookup).

A SKU is listed when the three disagree, with why, in the words an operator acts on:
not pushed yet, sold since the last push (covered by in-flight orders), changed in the store
outside DropStream, unknown to the store, never reported by the warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from dropstream.spec import ConnectionSpec

#: Order states whose units the store has deducted and the warehouse has not yet shipped.
IN_FLIGHT_STATES: tuple[str, ...] = ("ready", "in_file", "published")
COLUMNS = [
    "sku",
    "store_sku",
    "store",
    "pushed",
    "target",
    "warehouse",
    "in_flight",
    "as_of",
    "source_file",
    "pushed_at",
    "reason",
]


def reconcile(
    spec: ConnectionSpec, ledger: Any, store_stock: dict[str, int] | None
) -> pd.DataFrame:
    """The SKUs of ``spec``'s connection whose store, warehouse and ledger figures differ.

    ``store_stock`` maps store SKU -> available (None: the store's stock could not be read;
    then only the warehouse and the ledger are compared).
    """
    levels = pd.DataFrame(
        ledger.warehouse_levels(spec.name),
        columns=["sku", "warehouse_available", "as_of", "source_file", "target_quantity",
                 "pushed_quantity", "pushed_at"],
    )  # fmt: skip
    levels = levels.rename(
        columns={"warehouse_available": "warehouse", "target_quantity": "target",
                 "pushed_quantity": "pushed"}
    )  # fmt: skip
    rows = pd.merge(levels, in_flight(spec, ledger), on="sku", how="outer")
    rows["in_flight"] = rows["in_flight"].fillna(0).astype(int)
    to_store = {w: s for s, w in spec.rules.sku_map.items()}
    rows["store_sku"] = rows["sku"].map(lambda sku: to_store.get(sku, sku))
    if store_stock is not None:
        store = pd.DataFrame(list(store_stock.items()), columns=["store_sku", "store"])
        rows = pd.merge(rows, store, on="store_sku", how="left")
    else:
        rows["store"] = pd.NA
    for column in ("warehouse", "target", "pushed", "store"):
        rows[column] = rows[column].astype("Int64")
    # A bundle (rules.bundles) has no warehouse figure of its own: its target is its components'.
    rows["bundle"] = rows["sku"].isin(list(spec.rules.bundles))
    rows["reason"] = _reasons(rows, store_readable=store_stock is not None)
    differing = rows[rows["reason"] != ""]
    return differing[COLUMNS].sort_values("sku").reset_index(drop=True)


def in_flight(spec: ConnectionSpec, ledger: Any) -> pd.DataFrame:
    """Warehouse SKU -> units in orders not yet shipped (store SKUs mapped by ``sku_map``)."""
    lines = [
        (spec.rules.sku_map.get(line.sku, line.sku), line.quantity)
        for state in IN_FLIGHT_STATES
        for order in ledger.orders_in_state(spec.name, state)
        for line in order.lines
    ]
    frame = pd.DataFrame(lines, columns=["sku", "in_flight"])
    return frame.groupby("sku", as_index=False)["in_flight"].sum()


def _reasons(rows: pd.DataFrame, *, store_readable: bool) -> list[str]:
    return [_reason(row, store_readable) for row in rows.itertuples(index=False)]


def _reason(row: Any, store_readable: bool) -> str:
    known = pd.notna
    if not known(row.warehouse) and not row.bundle:
        if store_readable and not known(row.store):
            return "in orders in flight, but neither the warehouse nor the store knows the SKU"
        return "the warehouse never reported this SKU: check its SKU (or the sku_map)"
    if store_readable and not known(row.store):
        return "SKU not found in the store: create it there or map it with rules.sku_map"
    if not known(row.pushed) or row.pushed != row.target:
        return f"not pushed yet: the next inventory run sets the store to {row.target}"
    if not store_readable or row.store == row.pushed:
        return ""
    sold = row.pushed - row.store
    if 0 < sold <= row.in_flight:
        return (
            f"sold {sold} since the last push; {row.in_flight} unit(s) in orders the warehouse "
            "has not shipped yet (its next snapshot will count them)"
        )
    return (
        f"changed in the store outside DropStream: {row.store} there, {row.pushed} pushed "
        f"(in flight: {row.in_flight}); the next inventory change overwrites it"
    )


def store_stock(spec: ConnectionSpec, skus: Sequence[str]) -> tuple[dict[str, int] | None, str]:
    """The store's stock of ``skus`` (store SKUs), or None and why it could not be read."""
    from dropstream.errors import ConfigurationError
    from dropstream.stores import get_adapter

    adapter = get_adapter(
        spec.store.platform, spec.store.conn_id, spec.store.options, connection_name=spec.name
    )
    try:
        return adapter.stock_levels(list(skus)), ""
    except ConfigurationError as exc:
        return None, str(exc)
    finally:
        adapter.close()

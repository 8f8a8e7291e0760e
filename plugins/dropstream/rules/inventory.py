"""What quantity to publish to the store, and when a warehouse snapshot is too odd to publish.

Pure: the warehouse's figures, the quantities in flight and the last published quantities come
in; the quantities to publish (or the reason the snapshot is suspect) come out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from dropstream.rules.bundles import bundle_available
from dropstream.spec import Rules


def store_skus(rules: Rules) -> dict[str, str]:
    """Warehouse SKU -> store SKU: the reverse of ``rules.sku_map`` (unmapped SKUs are equal)."""
    return {warehouse: store for store, warehouse in sorted(rules.sku_map.items())}


def safety_units(available: int, rules: Rules) -> int:
    """Units withheld from the store: ``safety_stock``, or ``safety_stock_pct`` of
    ``available`` rounded up (never sell the last part of a unit), whichever is larger."""
    by_pct = math.ceil(Decimal(max(available, 0)) * Decimal(str(rules.safety_stock_pct)) / 100)
    return max(rules.safety_stock, by_pct)


def publishable_quantity(available: int, rules: Rules, in_flight: int = 0) -> int:
    """Available (less units sent but not shipped, when ``rules.subtract_in_flight``) minus
    the safety stock, never below zero."""
    if rules.subtract_in_flight:
        available -= in_flight
    return max(available - safety_units(available, rules), 0)


def bundle_targets(
    rules: Rules, available: Mapping[str, int | None], in_flight: Mapping[str, int]
) -> dict[str, int]:
    """Store SKU of each bundle -> quantity to publish, from its components' publishable stock.

    ``available`` and ``in_flight`` are keyed by warehouse SKU; components are named as the store
    knows them and go through ``rules.sku_map``. A bundle with an unreported component is left
    out (nothing published for it).
    """
    targets = {}
    for bundle, components in sorted(rules.bundles.items()):
        per_warehouse_sku = {rules.sku_map.get(sku, sku): qty for sku, qty in components.items()}
        publishable: dict[str, int | None] = {
            sku: None
            if available.get(sku) is None
            else publishable_quantity(available[sku] or 0, rules, in_flight.get(sku, 0))
            for sku in per_warehouse_sku
        }
        whole = bundle_available(per_warehouse_sku, publishable)
        if whole is not None:
            targets[bundle] = whole
    return targets


@dataclass(frozen=True, slots=True)
class SnapshotVerdict:
    suspect: bool
    reason: str
    in_stock: int  # store SKUs with stock now (last published quantity above zero)
    zeroed: int  # of those, how many this snapshot would publish as zero


def judge_snapshot(
    published: Mapping[str, int], snapshot: Mapping[str, int], guard_pct: float
) -> SnapshotVerdict:
    """Is an inventory snapshot a *suspect snapshot*?

    ``published``: warehouse SKU -> quantity the store has now (last accepted); ``snapshot``:
    warehouse SKU -> available in the new file. Suspect when it would drop at least
    ``guard_pct`` percent of the store's in-stock SKUs to zero, or lists none of them. A store
    with nothing in stock has nothing to lose: never suspect.
    """
    in_stock = sorted(sku for sku, qty in published.items() if qty and qty > 0)
    if not in_stock:
        return SnapshotVerdict(False, "", 0, 0)
    listed = [sku for sku in in_stock if sku in snapshot]
    zeroed = [sku for sku in listed if snapshot[sku] <= 0]
    if not listed:
        return SnapshotVerdict(
            True,
            f"lists none of the {len(in_stock)} SKUs in stock in the store",
            len(in_stock),
            0,
        )
    share = Decimal(len(zeroed)) * 100 / len(in_stock)
    if share >= Decimal(str(guard_pct)):
        return SnapshotVerdict(
            True,
            f"would set {len(zeroed)} of the {len(in_stock)} SKUs in stock in the store to zero "
            f"({share:.0f}%, at or above rules.zero_out_guard_pct {guard_pct:g}%)",
            len(in_stock),
            len(zeroed),
        )
    return SnapshotVerdict(False, "", len(in_stock), len(zeroed))

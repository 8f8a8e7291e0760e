"""What quantity to publish to the store for a warehouse's available figure."""

from __future__ import annotations

from dropstream.spec import Rules


def store_skus(rules: Rules) -> dict[str, str]:
    """Warehouse SKU -> store SKU: the reverse of ``rules.sku_map`` (unmapped SKUs are equal)."""
    return {warehouse: store for store, warehouse in sorted(rules.sku_map.items())}


def publishable_quantity(available: int, rules: Rules) -> int:
    """Available minus the safety stock, never below zero."""
    return max(available - rules.safety_stock, 0)

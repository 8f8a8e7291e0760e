"""Walmart Marketplace's inventory shapes and a key's access, as pure functions: a SKU's quantity,
the inventory feed file and its outcome, what a key's token detail lacks."""

from __future__ import annotations

import json
from typing import Any

from adapters.walmart.mapping import Raw


def quantity(sku: str, amount: int) -> Raw:
    """One SKU's quantity, as ``PUT /v3/inventory`` and the inventory feed take it."""
    return {"sku": sku, "quantity": {"unit": "EACH", "amount": amount}}


def access_problem(scopes: dict[str, Any], needed: dict[str, str]) -> str:
    """What the key lacks (token detail ``scopes`` below ``needed``) and what it has; '' if
    nothing."""
    rank = {"no_access": 0, "view_only": 1, "full_access": 2}
    have = {area: rank.get(str(level), 0) for area, level in scopes.items()}
    missing = [f"{a}: {need}" for a, need in needed.items() if have.get(a, 0) < rank[need]]
    if not missing:
        return ""
    held = ", ".join(f"{a}: {level}" for a, level in sorted(scopes.items())) or "none"
    return f"lacks {', '.join(missing)} (it has {held})"


def feed_file(batch: dict[str, int]) -> str:
    """The ``feedType=inventory`` file (inventory spec 1.4, JSON)."""
    items = [quantity(sku, amount) for sku, amount in batch.items()]
    return json.dumps({"InventoryHeader": {"version": "1.4"}, "Inventory": items})


def ingestion(status: Raw) -> list[Raw]:
    """A feed status page's ``itemIngestionStatus`` entries."""
    return list((status.get("itemDetails") or {}).get("itemIngestionStatus") or [])


def feed_outcome(
    feed_id: str, status: Raw, items: list[Raw], batch: dict[str, int]
) -> tuple[list[str], list[tuple[str, str]]]:
    """(accepted SKUs, rejected (SKU, why)) of ``batch``, as ``push_batches`` takes them."""
    outcome = {item.get("sku"): item for item in items}
    state = status.get("feedStatus") or "not processed in time"
    accepted: list[str] = []
    rejected: list[tuple[str, str]] = []
    for sku in batch:
        item = outcome.get(sku) or {}
        if item.get("ingestionStatus") == "SUCCESS":
            accepted.append(sku)
            continue
        errors = (item.get("ingestionErrors") or {}).get("ingestionError") or []
        why = "; ".join(str(e.get("description") or e.get("code")) for e in errors)
        why = why or item.get("ingestionStatus") or state
        rejected.append((sku, f"Walmart feed {feed_id}: {why}"))
    return accepted, rejected

"""Inventory levels -> Shopify ``inventorySetQuantities`` (compare-and-set on "available")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.paginators import CursorPaginator
from adapters.results import Refusal, resubmit_without_blamed
from adapters.shopify import queries as q
from adapters.shopify.client import ShopifyClient
from adapters.shopify.mapping import search_value
from dropstream.models import InventoryLevel, PushResult

NOT_FOUND = "SKU not found in store"


@dataclass(frozen=True, slots=True)
class Stock:
    """What the store has for one SKU at our location."""

    item_id: str
    available: int


def push_inventory(
    client: ShopifyClient, levels: Sequence[InventoryLevel], location_id: str
) -> PushResult:
    """Set "available" at ``location_id`` for each SKU; unknown SKUs are rejected."""
    wanted = {level.sku: level.available for level in levels}  # last level of a SKU wins
    stock, rejected = lookup(client, list(wanted), location_id)
    accepted: list[str] = []
    todo = [sku for sku in wanted if sku in stock]
    for start in range(0, len(todo), q.SET_QUANTITIES_BATCH):
        batch = todo[start : start + q.SET_QUANTITIES_BATCH]
        ok, refused = _set_batch(client, batch, wanted, stock, location_id)
        accepted += ok
        rejected += refused
    return PushResult(accepted=tuple(accepted), rejected=tuple(rejected))


def lookup(
    client: ShopifyClient, skus: list[str], location_id: str
) -> tuple[dict[str, Stock], list[tuple[str, str]]]:
    """SKU -> inventory item and current available quantity, in a few batched reads."""
    found: dict[str, list[Stock | None]] = {}
    for start in range(0, len(skus), q.SKUS_PER_LOOKUP):
        chunk = skus[start : start + q.SKUS_PER_LOOKUP]
        search = " OR ".join(f"sku:{search_value(sku)}" for sku in chunk)

        def page(cursor: str | None, search: str = search) -> tuple[list, str | None]:
            variables = {
                "query": search,
                "first": q.VARIANTS_PAGE,
                "after": cursor,
                "locationId": location_id,
            }
            variants = client.graphql(q.VARIANTS_BY_SKU, variables)["productVariants"]
            info = variants["pageInfo"]
            return variants["nodes"], info["endCursor"] if info["hasNextPage"] else None

        wanted = set(chunk)
        for variant in CursorPaginator("Shopify variants by SKU").items(page):
            if variant["sku"] not in wanted:  # search is case-insensitive; SKUs are not
                continue
            item = variant["inventoryItem"]
            level = item.get("inventoryLevel")
            quantities = {x["name"]: x["quantity"] for x in (level or {}).get("quantities", [])}
            stock = Stock(item["id"], int(quantities["available"])) if level else None
            found.setdefault(variant["sku"], []).append(stock)
    stock_by_sku: dict[str, Stock] = {}
    rejected: list[tuple[str, str]] = []
    for sku in skus:
        matches = found.get(sku, [])
        if not matches:
            rejected.append((sku, NOT_FOUND))
        elif len(matches) > 1:
            rejected.append((sku, f"SKU is on {len(matches)} variants in store; make it unique"))
        elif matches[0] is None:
            rejected.append((sku, f"SKU is not stocked at location {location_id}"))
        else:
            stock_by_sku[sku] = matches[0]
    return stock_by_sku, rejected


def _set_batch(
    client: ShopifyClient,
    batch: list[str],
    wanted: dict[str, int],
    stock: dict[str, Stock],
    location_id: str,
) -> tuple[list[str], list[tuple[str, str]]]:
    """One mutation; Shopify applies nothing on userErrors, so resubmit the rest once."""

    def submit(skus: list[str]) -> Refusal | None:
        user_errors = _set(client, skus, wanted, stock, location_id)
        if not user_errors:
            return None
        blamed: dict[int, str] = {}
        for error in user_errors:
            field = error.get("field") or []
            if len(field) >= 3 and field[1] == "quantities" and str(field[2]).isdigit():
                blamed[int(field[2])] = f"{error.get('code') or 'rejected'}: {error['message']}"
        reason = "Shopify refused the batch: " + "; ".join(e["message"] for e in user_errors)
        if any(i >= len(skus) for i in blamed):
            blamed = {}  # errors we cannot place: the whole batch is refused
        return Refusal(reason, blamed)

    if not batch:
        return [], []
    return resubmit_without_blamed(
        batch, submit, twice="not applied: Shopify refused its batch twice; retry"
    )


def _set(
    client: ShopifyClient,
    batch: list[str],
    wanted: dict[str, int],
    stock: dict[str, Stock],
    location_id: str,
) -> list[dict]:
    quantities = [
        {
            "inventoryItemId": stock[sku].item_id,
            "locationId": location_id,
            "quantity": wanted[sku],
            "changeFromQuantity": stock[sku].available,
        }
        for sku in batch
    ]
    variables = {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "dropstream://inventory",
            "quantities": quantities,
        }
    }
    result = client.graphql(q.INVENTORY_SET_QUANTITIES, variables)["inventorySetQuantities"]
    return list(result["userErrors"])

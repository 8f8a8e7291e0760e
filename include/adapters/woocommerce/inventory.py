"""Inventory levels -> WooCommerce stock through the products and variations batch endpoints.

WooCommerce cannot update by SKU: ``GET /products?sku=a,b,c`` (comma-separated; with a ``sku``
filter it also returns variations) resolves ids, then ``POST /products/batch`` and
``POST /products/{parent}/variations/batch`` set ``stock_quantity``, ≤ 100 objects per call.
Resolved ids are cached on the adapter for the run; SKUs already at the wanted quantity cost
no write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.paginators import PageNumberPaginator, has_next_page
from adapters.woocommerce.client import API, WooClient
from dropstream.models import InventoryLevel, PushResult

BATCH_MAX = 100  # objects per batch call (more: 413 woocommerce_rest_request_entity_too_large)
SKUS_PER_LOOKUP = 100  # = per_page max, so one lookup is one page
NOT_FOUND = "SKU not found in store"


@dataclass(frozen=True, slots=True)
class ProductRef:
    """Where one SKU's stock lives: a product, or a variation of ``parent_id``."""

    id: int
    parent_id: int = 0
    stock: int | None = None  # current stock_quantity when stock is managed, else None


def push_inventory(
    client: WooClient, levels: Sequence[InventoryLevel], cache: dict[str, ProductRef]
) -> PushResult:
    """Set ``stock_quantity`` (and ``manage_stock``) for each SKU; unknown SKUs are rejected."""
    wanted = {level.sku: level.available for level in levels}  # last level of a SKU wins
    fresh = lookup(client, [sku for sku in wanted if sku not in cache])
    cache.update({sku: ProductRef(ref.id, ref.parent_id) for sku, ref in fresh.items()})
    accepted: list[str] = []
    rejected = [(sku, NOT_FOUND) for sku in wanted if sku not in cache]
    groups: dict[int, list[str]] = {}  # parent id (0: products endpoint) -> SKUs to write
    for sku, quantity in wanted.items():
        ref = fresh.get(sku) or cache.get(sku)
        if ref is None:
            continue
        if ref.stock == quantity:
            accepted.append(sku)  # already right: costs nothing
        else:
            groups.setdefault(ref.parent_id, []).append(sku)
    for parent_id, skus in groups.items():
        path = (
            f"{API}/products/{parent_id}/variations/batch" if parent_id else f"{API}/products/batch"
        )
        for start in range(0, len(skus), BATCH_MAX):
            chunk = skus[start : start + BATCH_MAX]
            ok, refused = _write(client, path, chunk, wanted, cache)
            accepted += ok
            rejected += refused
    return PushResult(accepted=tuple(accepted), rejected=tuple(rejected))


def lookup(client: WooClient, skus: list[str]) -> dict[str, ProductRef]:
    """SKU -> ProductRef for the SKUs the store has, in ceil(len / 100) reads."""
    # WooCommerce splits the filter on commas: a SKU holding one is looked up alone.
    plain = [sku for sku in skus if "," not in sku]
    chunks = [plain[i : i + SKUS_PER_LOOKUP] for i in range(0, len(plain), SKUS_PER_LOOKUP)]
    chunks += [[sku] for sku in skus if "," in sku]
    found: dict[str, ProductRef] = {}
    for chunk in chunks:
        wanted = set(chunk)

        def page(n: int, chunk: list[str] = chunk) -> tuple[list[Any], bool]:
            params = {
                "sku": ",".join(chunk),
                "per_page": SKUS_PER_LOOKUP,
                "page": n,
                "_fields": "id,sku,type,parent_id,manage_stock,stock_quantity",
            }
            items, response = client.call("GET", f"{API}/products", params=params)
            more = has_next_page(
                response,
                n,
                items=len(items),
                page_size=SKUS_PER_LOOKUP,
                total_pages_header="X-WP-TotalPages",
            )
            return items, more

        products = PageNumberPaginator("WooCommerce products by SKU", key=lambda p: p["id"])
        for item in products.items(page):
            if item.get("sku") not in wanted:  # MySQL compares case-insensitively; SKUs do not
                continue
            managed = item.get("manage_stock") is True and item.get("stock_quantity") is not None
            parent = int(item.get("parent_id") or 0) if item.get("type") == "variation" else 0
            found[item["sku"]] = ProductRef(
                int(item["id"]), parent, int(item["stock_quantity"]) if managed else None
            )
    return found


def _write(
    client: WooClient,
    path: str,
    skus: list[str],
    wanted: dict[str, int],
    cache: dict[str, ProductRef],
) -> tuple[list[str], list[tuple[str, str]]]:
    by_id = {cache[sku].id: sku for sku in skus}
    update = [
        {"id": cache[sku].id, "manage_stock": True, "stock_quantity": wanted[sku]} for sku in skus
    ]
    body, _ = client.call("POST", path, json={"update": update})
    accepted: list[str] = []
    rejected: list[tuple[str, str]] = []
    answered: set[str] = set()
    for item in (body or {}).get("update") or []:
        sku = by_id.get(int(item.get("id") or 0))
        if sku is None:
            continue
        answered.add(sku)
        error = item.get("error")
        if error:
            rejected.append((sku, f"{error.get('code')}: {error.get('message')}"))
            cache.pop(sku, None)  # e.g. deleted meanwhile: look it up afresh next time
        else:
            accepted.append(sku)
    rejected += [
        (sku, "WooCommerce did not answer for this SKU") for sku in skus if sku not in answered
    ]
    return accepted, rejected

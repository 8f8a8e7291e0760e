"""Which order lines need no shipping: WooCommerce's line items do not say, their products do.

A line item names its product (``product_id``) and, for a variable product, the variation
(``variation_id``). WooCommerce ships a product unless it is ``virtual``
(``WC_Product::needs_shipping()``; a downloadable product that is not virtual ships), and a
variation is virtual on its own. So the window's products are read in batches of 100:
``GET /products?include=…`` (which lists products, not variations) and, for the lines of a
variable product, ``GET /products/{id}/variations?include=…``; ``_fields`` keeps the answers small.
A product that cannot be found (deleted since) ships: the warehouse says if it has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.woocommerce.client import API, WooClient, WooNotFound

PER_READ = 100  # ids per read = the per_page maximum, so one read is one page


def virtual_items(
    client: WooClient, orders: Iterable[dict[str, Any]], known: dict[int, bool]
) -> set[int]:
    """The product and variation ids of the orders' lines that are virtual (need no shipping).
    ``known`` (id -> virtual) carries what earlier pages read: only new ids are read."""
    products: set[int] = set()
    variations: dict[int, set[int]] = {}  # variable product id -> its variations on the lines
    for order in orders:
        for item in order.get("line_items") or []:
            product, variation = _id(item.get("product_id")), _id(item.get("variation_id"))
            if variation and product and variation not in known:
                variations.setdefault(product, set()).add(variation)
            elif product and not variation and product not in known:
                products.add(product)
    _read(client, f"{API}/products", products, known)
    for parent, ids in sorted(variations.items()):
        try:
            _read(client, f"{API}/products/{parent}/variations", ids, known)
        except WooNotFound:  # the variable product was deleted since: its lines ship
            continue
    return {item for item, virtual in known.items() if virtual}


def _read(client: WooClient, path: str, ids: set[int], known: dict[int, bool]) -> None:
    """Whether each of ``ids`` is virtual, into ``known`` (one not found: not virtual)."""
    known.update(dict.fromkeys(ids, False))
    ordered = sorted(ids)
    for start in range(0, len(ordered), PER_READ):
        chunk = ordered[start : start + PER_READ]
        params = {
            "include": ",".join(map(str, chunk)),
            "per_page": PER_READ,
            "_fields": "id,virtual",
        }
        items, _ = client.call("GET", path, params=params)
        known.update({int(item["id"]): True for item in items or [] if item.get("virtual") is True})


def _id(value: Any) -> int:
    """A line's product or variation id; 0 for none (or a malformed one: ``to_order`` says so)."""
    return int(value) if str(value).isdigit() else 0

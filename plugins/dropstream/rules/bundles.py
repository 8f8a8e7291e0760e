"""Bundles: a store SKU sold as a set of warehouse components (``rules.bundles``).

Out (``fulfillment.shipping_lines``): a bundle line becomes its components x the line's
quantity; each component line keeps the bundle line's ``line_id`` and remembers the bundle
(``bundle_sku``, ``per_bundle``), with price zero (the bundle carries it).
Back: a package of components closes the bundle line; the bundle's stock is what its scarcest
component allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from dropstream.models import OrderLine, ShipmentLine

ZERO = Decimal("0")


def bundle_shipment_lines(
    shipped: Iterable[ShipmentLine], order_lines: Iterable[OrderLine]
) -> tuple[list[ShipmentLine], list[str]]:
    """Fold shipped component lines back into their bundle lines.

    ``shipped`` lines carry the ``line_id`` of the order line they matched (for a component,
    the bundle line's). Returns the lines to push and, for each bundle only partly in this
    package, a note: the bundle line is closed for as many whole bundles as every component
    allows, never for more.
    """
    components: dict[str, dict[str, int]] = {}  # bundle line id -> {component sku: per bundle}
    bundle_sku: dict[str, str] = {}
    for ordered in order_lines:
        if ordered.bundle_sku:
            components.setdefault(ordered.line_id, {})[ordered.sku] = ordered.per_bundle
            bundle_sku[ordered.line_id] = ordered.bundle_sku
    plain: list[ShipmentLine] = []
    got: dict[str, dict[str, int]] = {}
    for line in shipped:
        wanted = components.get(line.line_id)
        if wanted is None or line.sku not in wanted:
            plain.append(line)
            continue
        into = got.setdefault(line.line_id, {})
        into[line.sku] = into.get(line.sku, 0) + line.quantity
    notes = []
    for line_id, have in got.items():
        wanted = components[line_id]
        whole = min(have.get(sku, 0) // per for sku, per in wanted.items())
        extra = {sku: have.get(sku, 0) - whole * per for sku, per in wanted.items()}
        if any(extra.values()):
            left = ", ".join(f"{sku} x{n}" for sku, n in sorted(extra.items()) if n)
            notes.append(
                f"bundle {bundle_sku[line_id]}: this package completes {whole} bundle(s); "
                f"components beyond that ({left}) are not reported to the store"
            )
        if whole:
            plain.append(ShipmentLine(sku=bundle_sku[line_id], quantity=whole, line_id=line_id))
    return plain, notes


def bundle_available(
    components: Mapping[str, int], available: Mapping[str, int | None]
) -> int | None:
    """Whole bundles the warehouse can make: ``min(component available // qty)``.

    None when the warehouse has not reported some component (nothing is published then).
    """
    counts = []
    for sku, per in components.items():
        have = available.get(sku)
        if have is None:
            return None
        counts.append(max(have, 0) // per)
    return min(counts) if counts else None

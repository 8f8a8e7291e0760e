"""Spreading a package's shipped quantities over the order's open lines (every platform does it).

A shipped line names an order line (``line_id``) or, failing that, a SKU; its quantity is taken
from the matching open lines in order, each capped by what it still has to ship. What the store
calls a line differs (Shopify's fulfillment-order lines, WooCommerce's line items, BigCommerce's
order products): each adapter lists them as ``OpenLine``s and reads the ``Take``s back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.results import Rejected
from dropstream.models import Shipment, ShipmentLine

__all__ = ["OpenLine", "Take", "allocate", "totals"]


@dataclass(frozen=True, slots=True)
class OpenLine:
    """A line the store can still ship: its own ``id``, the order line it belongs to, its SKU,
    how many units remain, and the platform's record (``ref``) for the caller."""

    id: str
    line_id: str
    sku: str
    remaining: int
    ref: Any = None


@dataclass(frozen=True, slots=True)
class Take:
    line: OpenLine
    quantity: int


def allocate(
    shipment: Shipment,
    open_lines: Sequence[OpenLine],
    *,
    unmatched: Callable[[ShipmentLine], str],
) -> list[Take]:
    """The units each open line ships, in allocation order (empty: nothing left to ship).

    A shipped line no open line matches rejects the shipment with ``unmatched(line)``.
    """
    taken: dict[str, int] = {}
    takes: list[Take] = []
    for line in shipment.lines:
        matches = [
            o
            for o in open_lines
            if (o.line_id == line.line_id if line.line_id else o.sku == line.sku)
        ]
        if not matches:
            raise Rejected(unmatched(line))
        wanted = line.quantity
        for open_line in matches:
            take = min(wanted, open_line.remaining - taken.get(open_line.id, 0))
            if take > 0:
                taken[open_line.id] = taken.get(open_line.id, 0) + take
                takes.append(Take(open_line, take))
                wanted -= take
    return takes


def totals(takes: Sequence[Take]) -> dict[str, int]:
    """Open line id -> units, summed over the takes (first-taken order)."""
    summed: dict[str, int] = {}
    for take in takes:
        summed[take.line.id] = summed.get(take.line.id, 0) + take.quantity
    return summed

"""Which orders go to the warehouse, and in what shape: pure decisions over Orders.

``decide`` returns the order as the warehouse should see it (SKUs and ship method mapped,
the connection's order-number prefix put before its number) and whether it is ready, held for a
person, or skipped, with the reason in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from dropstream.models import Order
from dropstream.spec import Rules

State = Literal["ready", "held", "skipped"]


@dataclass(frozen=True, slots=True)
class Decision:
    state: State
    reason: str
    order: Order


def decide(order: Order, rules: Rules, *, not_before: datetime | None = None) -> Decision:
    """Apply the connection's rules to one order.

    ``not_before`` is the connection's start date: an order placed earlier is never sent.
    """
    if not_before is not None and order.created_at < not_before:
        return Decision(
            "skipped",
            f"placed {order.created_at:%Y-%m-%d %H:%M} UTC, before the connection's start date "
            f"{not_before:%Y-%m-%d %H:%M} UTC",
            order,
        )
    skip = set(rules.skip_skus)
    lines = tuple(
        replace(line, sku=rules.sku_map.get(line.sku, line.sku))
        for line in order.lines
        if line.sku not in skip and line.quantity > 0
    )
    if not lines:
        return Decision(
            "skipped", "no lines to ship (all skipped by rules or zero quantity)", order
        )
    missing_sku = [line.line_number for line in lines if not line.sku]
    if missing_sku:
        return Decision(
            "held",
            f"line(s) {missing_sku} have no SKU: give the product a SKU in the store "
            "or map it in rules.sku_map",
            order,
        )
    # With a ship-method map, an unmapped method is held (the warehouse would reject it);
    # without one, the store's code goes through as the warehouse's code.
    method = rules.ship_method_map.get(order.ship_method) or rules.default_ship_method
    if not method and not rules.ship_method_map:
        method = order.ship_method
    if not method:
        return Decision(
            "held",
            f"no ship method for store method {order.ship_method!r}: "
            "add it to rules.ship_method_map "
            "or set rules.default_ship_method",
            order,
        )
    if order.ship_to.country.upper() in {c.upper() for c in rules.hold_countries}:
        return Decision(
            "held", f"ship-to country {order.ship_to.country} is on rules.hold_countries", order
        )
    number = rules.order_number_prefix + order.number
    return Decision("ready", "", replace(order, number=number, lines=lines, ship_method=method))

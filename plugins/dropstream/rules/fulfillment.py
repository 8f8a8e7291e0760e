"""Which orders go to the warehouse, and in what shape: pure decisions over Orders.

``decide`` returns the order as the warehouse should see it (non-shipping lines dropped, bundles
made into their components, SKUs and ship method mapped, the connection's order-number prefix
put before its number) and whether it is ready, waiting (younger than ``rules.hold_minutes``),
held for a person, or skipped, with the reason in plain words. The order of the checks is the
contract (docs/fulfillment.md): start date, hold period, lines, tags, SKUs, ship method,
countries, address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from dropstream.models import Order, OrderLine
from dropstream.rules.address import address_problems
from dropstream.rules.bundles import ZERO
from dropstream.spec import Rules

State = Literal["ready", "waiting", "held", "skipped"]


@dataclass(frozen=True, slots=True)
class Decision:
    state: State
    reason: str
    order: Order


def shipping_lines(order: Order, rules: Rules) -> tuple[OrderLine, ...]:
    """The lines the warehouse ships: no gift cards or digital goods, no skipped SKUs, bundles
    as their components, SKUs mapped. Lines are renumbered from 1 when a
    bundle was expanded (file formats need unique line numbers)."""
    skip, sku_map, bundles = set(rules.skip_skus), rules.sku_map, rules.bundles
    # (line, its SKU in the store, units, units per bundle or 0): each line is built once, at
    # the end, and only when it changes (a frozen dataclass costs in this hot loop).
    kept: list[tuple[OrderLine, str, int, int]] = []
    expanded = False
    for line in order.lines:
        if not line.requires_shipping or line.sku in skip or line.quantity <= 0:
            continue
        components = bundles.get(line.sku)
        if components:
            expanded = True
            kept += (
                (line, sku, per * line.quantity, per)
                for sku, per in components.items()
                if sku not in skip
            )
        else:
            kept.append((line, line.sku, line.quantity, 0))
    lines = []
    for n, (line, store_sku, quantity, per) in enumerate(kept, start=1):
        sku = sku_map.get(store_sku, store_sku)
        number = n if expanded else line.line_number
        if not per and sku == line.sku and number == line.line_number:
            lines.append(line)
            continue
        lines.append(
            OrderLine(
                line.line_id,
                sku,
                quantity,
                ZERO if per else line.unit_price,
                number,
                line.requires_shipping,
                line.sku if per else line.bundle_sku,
                per or line.per_bundle,
            )
        )
    return tuple(lines)


def tag_decision(order: Order, rules: Rules) -> tuple[State, str] | None:
    """Skipped without an included tag; held with an excluded one; None when tags allow it."""
    tags = set(order.tags)
    if rules.include_tags and not tags & set(rules.include_tags):
        return "skipped", (
            f"has none of the tags in rules.include_tags ({', '.join(rules.include_tags)})"
        )
    excluded = [t for t in rules.exclude_tags if t in tags]
    if excluded:
        return "held", f"tag {excluded[0]!r} is on rules.exclude_tags"
    return None


def country_decision(order: Order, rules: Rules) -> str | None:
    """Why the ship-to country keeps the order back (held), or None."""
    country = order.ship_to.country.strip().upper()
    if country in rules.hold_countries:
        return f"ship-to country {country} is on rules.hold_countries"
    if rules.ship_countries and country not in rules.ship_countries:
        return (
            f"ship-to country {country or '(none)'} is not on rules.ship_countries "
            f"({', '.join(rules.ship_countries)})"
        )
    return None


def decide(
    order: Order,
    rules: Rules,
    *,
    not_before: datetime | None = None,
    now: datetime | None = None,
    address_limits: Mapping[str, int] | None = None,
) -> Decision:
    """Apply the connection's rules to one order.

    ``not_before`` is the connection's start date: an order placed earlier is never sent.
    ``now`` is the run's clock reading, for ``rules.hold_minutes`` (no hold period without it).
    ``address_limits`` are the order file's longest allowed address fields.
    """
    if not_before is not None and order.created_at < not_before:
        return Decision(
            "skipped",
            f"placed {order.created_at:%Y-%m-%d %H:%M} UTC, before the connection's start date "
            f"{not_before:%Y-%m-%d %H:%M} UTC",
            order,
        )
    if rules.hold_minutes and now is not None:
        due = order.created_at + timedelta(minutes=rules.hold_minutes)
        if now < due:
            return Decision(
                "waiting",
                f"placed {order.created_at:%H:%M} UTC; rules.hold_minutes keeps it until "
                f"{due:%Y-%m-%d %H:%M} UTC",
                order,
            )
    lines = shipping_lines(order, rules)
    if not lines:
        return Decision(
            "skipped",
            "no lines to ship (all skipped by rules, need no shipping, or zero quantity)",
            order,
        )
    by_tag = tag_decision(order, rules)
    if by_tag is not None:
        return Decision(by_tag[0], by_tag[1], order)
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
    by_country = country_decision(order, rules)
    if by_country is not None:
        return Decision("held", by_country, order)
    if rules.address_checks:
        problems = address_problems(order.ship_to, address_limits)
        if problems:
            return Decision("held", f"address: {'; '.join(problems)}", order)
    number = rules.order_number_prefix + order.number
    return Decision("ready", "", replace(order, number=number, lines=lines, ship_method=method))

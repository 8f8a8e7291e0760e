"""Orders for the rules' tables: one valid US order, changed per case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from dropstream.models import Address, Order, OrderLine

PLACED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOME = Address(
    name="Ada Byron",
    address1="1 Main St",
    city="Springfield",
    postal_code="62701",
    country="US",
    state="IL",
)


def line(sku: str, qty: int = 1, n: int = 1, **kw: Any) -> OrderLine:
    return OrderLine(f"L{n}", sku, qty, Decimal("10.00"), n, **kw)


def order(*lines: OrderLine, **kw: Any) -> Order:
    base = Order(
        order_id="gid-1",
        number="1001",
        created_at=PLACED,
        updated_at=PLACED,
        ship_to=HOME,
        lines=lines or (line("MUG"),),
        ship_method="GROUND",
    )
    return replace(base, **kw)


def minutes_after(n: float) -> datetime:
    return PLACED + timedelta(minutes=n)

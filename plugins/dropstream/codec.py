"""JSON codec for the domain values the ledger stores (Decimal as string, datetimes ISO UTC)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from dropstream.models import Address, Order, OrderLine, Shipment, ShipmentLine


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def order_to_dict(order: Order) -> dict[str, Any]:
    return _plain(asdict(order))


def order_from_dict(data: dict[str, Any]) -> Order:
    bill_to = data.get("bill_to")
    return Order(
        **{
            **data,
            "created_at": _when(data["created_at"]),
            "updated_at": _when(data["updated_at"]),
            "ship_to": Address(**data["ship_to"]),
            "bill_to": Address(**bill_to) if bill_to else None,
            "tags": tuple(data.get("tags") or ()),
            "lines": tuple(
                OrderLine(**{**line, "unit_price": Decimal(line["unit_price"])})
                for line in data["lines"]
            ),
        }
    )


def shipment_to_dict(shipment: Shipment) -> dict[str, Any]:
    return _plain(asdict(shipment))


def shipment_from_dict(data: dict[str, Any]) -> Shipment:
    return Shipment(
        **{
            **data,
            "shipped_at": _when(data.get("shipped_at")),
            "lines": tuple(ShipmentLine(**line) for line in data["lines"]),
        }
    )

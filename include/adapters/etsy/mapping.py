"""Etsy's pure mapping: receipts to orders and cancellations, Money, package notes, and the
inventory body ``updateListingInventory`` takes back."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from adapters.allocation import OpenLine
from adapters.times import parse_epoch
from dropstream import errors
from dropstream.models import Address, Cancellation, Order, OrderLine

ADDRESS = {"name": "name", "address1": "first_line", "address2": "second_line", "city": "city",
           "state": "state", "postal_code": "zip", "country": "country_iso"}  # fmt: skip
INVENTORY = ("products", "price_on_property", "quantity_on_property", "sku_on_property",
             "readiness_state_on_property")  # what updateListingInventory takes  # fmt: skip
READ_ONLY = {"product_id", "offering_id", "is_deleted", "scale_name"}  # getListingInventory's
NOTE = "This package holds part of your order: {}. The rest ships separately."


def money(value: dict[str, Any]) -> Decimal:
    """Etsy Money ``{amount, divisor}`` (a power of ten) exactly: ``1210 / 100`` -> ``12.10``."""
    return Decimal(int(value["amount"])).scaleb(1 - len(str(int(value["divisor"]))))


def shipment_id(receipt: dict[str, Any], tracking: str) -> str:
    """The receipt's shipment with this tracking code (its id), or "" when there is none."""
    found = [s for s in receipt.get("shipments") or [] if s.get("tracking_code") == tracking]
    return str(found[0].get("receipt_shipping_id") or tracking) if found else ""


def open_lines(receipt: dict[str, Any]) -> list[OpenLine]:
    """The receipt's transactions as lines to allocate a package over (Etsy ships receipts)."""
    return [OpenLine(str(t["transaction_id"]), str(t["transaction_id"]), t.get("sku") or "",
                     int(t["quantity"]), t)
            for t in receipt.get("transactions") or []]  # fmt: skip


def package_note(shipped: dict[str, int], lines: Sequence[OpenLine]) -> str:
    """What a package holds (``2 × Mug; 1 × Tee``) when it is not the whole receipt."""
    if all(shipped.get(line.id, 0) >= line.remaining for line in lines):
        return ""
    return NOTE.format("; ".join(f"{n} × {ln.ref.get('title') or ln.sku}" for ln in lines
                                 if (n := shipped.get(ln.id))))  # fmt: skip


def _writable(value: Any) -> Any:
    """getListingInventory's value as updateListingInventory takes it (float prices)."""
    if isinstance(value, list):
        return [_writable(item) for item in value]
    if isinstance(value, dict) and {"amount", "divisor"} <= value.keys():
        return float(money(value))
    if isinstance(value, dict):
        return {k: _writable(v) for k, v in value.items() if k not in READ_ONLY}
    return value


def inventory_body(inventory: dict[str, Any], levels: dict[str, int]) -> tuple[dict, bool]:
    """The listing's whole inventory with the SKUs in ``levels`` set; and whether it changed."""
    body, changed = _writable({k: inventory.get(k) or [] for k in INVENTORY}), False
    for product in body["products"]:
        for offer in product["offerings"]:
            quantity = levels.get(product.get("sku"), offer["quantity"])
            changed, offer["quantity"] = changed or quantity != offer["quantity"], quantity
    return body, changed


def _line(n: int, item: dict[str, Any]) -> OrderLine:
    sku, quantity = item.get("sku") or "", int(item["quantity"])
    ships = not item.get("is_digital")  # a digital listing is downloaded: nothing to ship
    return OrderLine(str(item["transaction_id"]), sku, quantity, money(item["price"]), n, ships)


def to_order(raw: dict[str, Any]) -> Order:
    """One ShopReceipt with its transactions -> Order (``number`` is the receipt id)."""
    try:
        items = raw.get("transactions") or []
        first = items[0] if items else {}
        return Order(
            order_id=str(raw["receipt_id"]),
            number=str(raw["receipt_id"]),
            created_at=parse_epoch(raw["created_timestamp"]),
            updated_at=parse_epoch(raw["updated_timestamp"]),
            ship_to=Address(**{field: raw.get(key) or "" for field, key in ADDRESS.items()}),
            lines=tuple(_line(n, t) for n, t in enumerate(items, start=1)),
            email=raw.get("buyer_email") or "",
            ship_method=first.get("shipping_upgrade") or first.get("shipping_method") or "",
            currency=(first.get("price") or {}).get("currency_code") or "USD",
            notes=raw.get("message_from_buyer") or "",
            financial_status=raw.get("status") or "",
            fulfillment_status="shipped" if raw.get("is_shipped") else "unshipped",
            channel="etsy",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        why = f"Etsy receipt {raw.get('receipt_id')} is malformed: {exc!r}"
        raise errors.DataError(why) from exc


def to_cancellation(raw: dict[str, Any]) -> Cancellation:
    """A cancelled receipt (``was_canceled=true``) -> Cancellation. Etsy keeps no cancel time on
    the receipt: its last change (``updated_timestamp``) stands in; the reason is the refunds'
    ``reason`` (Etsy refunds a cancelled receipt in full)."""
    order = to_order(raw)
    reasons = [r.get("reason") for r in raw.get("refunds") or [] if isinstance(r, dict)]
    why = "; ".join(r for r in reasons if r)
    reason = f"canceled on Etsy ({why})" if why else "canceled on Etsy"
    return Cancellation(order=order, cancelled_at=order.updated_at, reason=reason)

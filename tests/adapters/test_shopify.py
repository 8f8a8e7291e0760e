"""ShopifyAdapter against the strict local Shopify emulator (real HTTP, real GraphQL schema)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters import get_adapter
from adapters.base import RetryPolicy
from adapters.shopify import ShopifyAdapter
from dropstream.errors import AuthenticationError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from tests.servers.shopify import ShopifyEmulator, shopify_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=5.0, jitter=0.01)


@pytest.fixture
def shop(shopify_emulator: ShopifyEmulator, monkeypatch: pytest.MonkeyPatch) -> ShopifyEmulator:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", shopify_connection_json(shopify_emulator))
    monkeypatch.setattr(ShopifyAdapter, "retry_policy", FAST)
    return shopify_emulator


@pytest.fixture
def adapter(shop: ShopifyEmulator) -> ShopifyAdapter:
    built = get_adapter("shopify", CONN_ID, connection_name="acme")
    assert isinstance(built, ShopifyAdapter)
    yield built
    built.close()


def shipment(order_id: str, tracking: str, *lines: tuple[str, int]) -> Shipment:
    return Shipment(
        order_number="1001",
        tracking_number=tracking,
        carrier="UPS",
        order_id=order_id,
        lines=tuple(ShipmentLine(sku="", quantity=n, line_id=lid) for lid, n in lines),
        tracking_url=f"https://track.example/{tracking}",
    )


# --- orders --------------------------------------------------------------------------------
def test_orders_paginate_over_many_pages(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    ids = [shop.add_order(updated_at=T0 + timedelta(seconds=i)) for i in range(520)]
    orders = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert [o.order_id for o in orders] == ids
    assert shop.calls("orders") >= 3


def test_window_is_half_open(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    at_since = shop.add_order(updated_at=T0)
    inside = shop.add_order(updated_at=T0 + timedelta(minutes=5, microseconds=1))
    shop.add_order(updated_at=T0 + timedelta(minutes=15))  # exactly at until
    shop.add_order(updated_at=T0 - timedelta(microseconds=1))
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=15))]
    assert got == [at_since, inside]
    nxt = [o.order_id for o in adapter.fetch_orders(T0 + timedelta(minutes=15), T0 + timedelta(1))]
    assert len(nxt) == 1 and nxt[0] not in got


def test_only_paid_unfulfilled_open_orders(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    paid = shop.add_order(updated_at=T0)
    shop.add_order(updated_at=T0, financial_status="PENDING")
    shop.add_order(updated_at=T0, closed=True)
    done = shop.add_order(updated_at=T0)
    for item in shop.order(done).fulfillment_orders[0].items:
        item.remaining = 0
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(1))] == [paid]


def test_order_mapping_non_ascii_and_decimal(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    address = {
        "name": "Zoë Müller-Łukasiewicz",
        "company": "Bäckerei",
        "address1": "Straße 5",
        "address2": "2. OG",
        "city": "Köln",
        "provinceCode": "NW",
        "zip": "50667",
        "countryCodeV2": "DE",
        "phone": "+49 221 000",
    }
    order_id = shop.add_order(
        1042,
        updated_at=T0,
        address=address,
        currency="EUR",
        lines=[("MUG-1", 2, "12.10"), ("TEE-9", 1, "0.30")],
        shipping_line={"title": "DHL Paket", "code": None},
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(1))
    assert order.order_id == order_id and order.number == "1042"
    assert order.ship_to.name == "Zoë Müller-Łukasiewicz" and order.ship_to.city == "Köln"
    assert (order.ship_to.country, order.ship_to.state) == ("DE", "NW")
    assert order.currency == "EUR" and order.ship_method == "DHL Paket"
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in order.lines] == [
        ("MUG-1", 2, Decimal("12.10")),
        ("TEE-9", 1, Decimal("0.30")),
    ]
    assert sum(ln.unit_price * ln.quantity for ln in order.lines) == Decimal("24.50")
    assert order.lines[0].line_id == shop.order(order_id).lines[0].id


def test_orders_with_many_lines_are_complete(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    shop.add_order(updated_at=T0, lines=[(f"SKU-{i}", 1, "1.00") for i in range(37)])
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(1))
    assert [ln.sku for ln in order.lines] == [f"SKU-{i}" for i in range(37)]


# --- throttling, failures, auth ------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 429])
def test_throttled_then_success(
    shop: ShopifyEmulator, adapter: ShopifyAdapter, status: int
) -> None:
    shop.throttle_status = status
    shop.add_order(updated_at=T0)
    shop.drain_bucket(0)
    shop.set_restore_rate(2000)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert shop.throttled_count >= 1


def test_client_paces_before_being_throttled(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    for i in range(60):
        shop.add_variant(f"SKU-{i}", 1)
    shop.set_restore_rate(400)  # each lookup asks ~800 points of a 1000-point bucket
    for _ in range(4):
        adapter.push_inventory([InventoryLevel(f"SKU-{i}", 5) for i in range(60)])
    assert shop.calls("productVariants") == 4
    assert shop.throttled_count <= 1  # at most once, to learn the query's cost


def test_server_errors_are_retried(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    shop.add_order(updated_at=T0)
    shop.fail_next(2, status=503)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in shop.requests] == [503, 503, 200]


def test_bad_token_fails_fast_naming_the_connection(
    shop: ShopifyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = json.loads(shopify_connection_json(shop)) | {"password": "shpat_wrong"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(bad))
    adapter = get_adapter("shopify", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "'acme'" in message and CONN_ID in message and "401" in message
    assert "shpat_wrong" not in message
    assert len(shop.requests) == 1


def test_missing_scopes_are_listed(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    shop.scopes = [s for s in shop.scopes if s not in ("write_inventory", "read_products")]
    with pytest.raises(AuthenticationError, match="write_inventory, read_products"):
        adapter.test_connection()


def test_connection_ok(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    adapter.test_connection()


# --- shipments -----------------------------------------------------------------------------
def test_partial_shipment_then_rest(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    order_id = shop.add_order(updated_at=T0, lines=[("A", 3, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = (ln.id for ln in shop.order(order_id).lines)
    first = adapter.push_shipments([shipment(order_id, "1Z1", (line_a, 2))])
    assert first.accepted == ("1001|1Z1",) and not first.rejected
    assert shop.order(order_id).fulfillment_status == "PARTIALLY_FULFILLED"
    second = adapter.push_shipments([shipment(order_id, "1Z2", (line_a, 1), (line_b, 1))])
    assert second.accepted == ("1001|1Z2",)
    assert [f["lines"] for f in shop.fulfillments] == [{line_a: 2}, {line_a: 1, line_b: 1}]
    assert [f["number"] for f in shop.fulfillments] == ["1Z1", "1Z2"]
    assert shop.order(order_id).fulfillment_status == "FULFILLED"
    assert second.details["1001|1Z2"] == shop.fulfillments[1]["id"]


def test_two_packages_in_one_push(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    order_id = shop.add_order(updated_at=T0, lines=[("A", 1, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = (ln.id for ln in shop.order(order_id).lines)
    result = adapter.push_shipments(
        [shipment(order_id, "PKG-1", (line_a, 1)), shipment(order_id, "PKG-2", (line_b, 1))]
    )
    assert result.accepted == ("1001|PKG-1", "1001|PKG-2")
    assert [(f["number"], f["lines"]) for f in shop.fulfillments] == [
        ("PKG-1", {line_a: 1}),
        ("PKG-2", {line_b: 1}),
    ]


def test_same_shipment_twice_creates_one_fulfillment(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    order_id = shop.add_order(updated_at=T0, lines=[("A", 2, "1.00")])
    package = shipment(order_id, "1ZSAME", (shop.order(order_id).lines[0].id, 1))
    first = adapter.push_shipments([package])
    again = adapter.push_shipments([package])
    assert first.accepted == again.accepted == (package.key,)
    assert first.details == again.details
    assert len(shop.fulfillments) == 1


def test_user_errors_are_rejected_not_swallowed(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    order_id = shop.add_order(updated_at=T0, lines=[("A", 1, "1.00")])
    line = shop.order(order_id).lines[0]
    shop.order(order_id).fulfillment_orders[0].id = "gid://shopify/FulfillmentOrder/0"
    real = shop.store.fulfillment_create

    def vanished(info, fulfillment, message=""):  # the FO is replaced between read and write
        shop.order(order_id).fulfillment_orders[0].id = "gid://shopify/FulfillmentOrder/9"
        return real(info, fulfillment, message)

    shop.store.fulfillment_create = vanished
    result = adapter.push_shipments(
        [shipment(order_id, "1ZBAD", (line.id, 1)), shipment("gid://shopify/Order/1", "1ZX")]
    )
    assert result.accepted == ()
    reasons = dict(result.rejected)
    assert "does not exist" in reasons["1001|1ZBAD"]
    assert "not found" in reasons["1001|1ZX"]
    assert shop.fulfillments == []


# --- inventory -----------------------------------------------------------------------------
def test_600_skus_take_three_set_calls(shop: ShopifyEmulator, adapter: ShopifyAdapter) -> None:
    for i in range(600):
        shop.add_variant(f"SKU-{i:04d}", available=1)
    shop.set_restore_rate(5000)
    result = adapter.push_inventory([InventoryLevel(f"SKU-{i:04d}", i) for i in range(600)])
    assert len(result.accepted) == 600 and not result.rejected
    assert shop.calls("inventorySetQuantities") == 3
    assert shop.inventory == {f"SKU-{i:04d}": i for i in range(600)}


def test_unknown_sku_and_case_mismatch_rejected(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    shop.add_variant("MUG-RED", 4)
    shop.add_variant("mug-blue", 4)
    shop.add_variant("Größe L/XL", 1)
    levels = [
        InventoryLevel("MUG-RED", 7),
        InventoryLevel("NOPE", 3),
        InventoryLevel("MUG-BLUE", 2),
        InventoryLevel("Größe L/XL", 0),
    ]
    result = adapter.push_inventory(levels)
    assert set(result.accepted) == {"MUG-RED", "Größe L/XL"}
    assert dict(result.rejected) == {
        "NOPE": "SKU not found in store",
        "MUG-BLUE": "SKU not found in store",
    }
    assert shop.inventory == {"MUG-RED": 7, "mug-blue": 4, "Größe L/XL": 0}


def test_stale_change_from_quantity_surfaces(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    shop.add_variant("A", 10)
    shop.add_variant("B", 10)

    def sold_one() -> None:  # an order comes in between our read and our write
        next(v for v in shop.store.variants if v.sku == "A").available = 9

    shop.on_next_lookup(sold_one)
    result = adapter.push_inventory([InventoryLevel("A", 5), InventoryLevel("B", 6)])
    assert result.accepted == ("B",)
    ((sku, reason),) = result.rejected
    assert sku == "A" and "CHANGE_FROM_QUANTITY_STALE" in reason
    assert shop.inventory == {"A": 9, "B": 6}


def test_tags_gift_cards_and_digital_lines_are_mapped(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    shop.add_order(
        updated_at=T0,
        lines=[("GIFT-25", 1, "25.00"), ("EBOOK", 1, "5.00"), ("MUG", 2, "9.00")],
        tags=["vip", "fraud-check"],
        gift_card_skus={"GIFT-25"},
        digital_skus={"EBOOK"},
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(minutes=15))
    assert order.tags == ("vip", "fraud-check")
    assert [(ln.sku, ln.requires_shipping) for ln in order.lines] == [
        ("GIFT-25", False),
        ("EBOOK", False),
        ("MUG", True),
    ]


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_in_the_window_with_reason_and_time(
    shop: ShopifyEmulator, adapter: ShopifyAdapter
) -> None:
    kept = shop.add_order(1001, updated_at=T0)
    fraud = shop.add_order(1002, updated_at=T0)
    customer = shop.add_order(1003, updated_at=T0)
    earlier = shop.add_order(1004, updated_at=T0)
    shop.cancel_order(fraud, reason="FRAUD", at=T0 + timedelta(minutes=3))
    shop.cancel_order(customer, at=T0 + timedelta(minutes=14, seconds=59))
    shop.cancel_order(earlier, at=T0 - timedelta(minutes=1))  # an earlier window's
    before = shop.calls("orders")
    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))
    assert shop.calls("orders") - before == 1  # one listing for the window
    assert [(c.order.number, c.cancelled_at, c.reason) for c in found] == [
        ("1002", T0 + timedelta(minutes=3), "cancelled in Shopify: fraudulent order (FRAUD)"),
        (
            "1003",
            T0 + timedelta(minutes=14, seconds=59),
            "cancelled in Shopify: the customer cancelled (CUSTOMER)",
        ),
    ]
    assert found[0].order.lines[0].sku == "SKU-1"  # the whole order, as fetch_orders maps it
    # a cancelled order leaves the open orders: it is never fetched for sending again
    assert [o.order_id for o in adapter.fetch_orders(T0 - timedelta(1), T0 + timedelta(1))] == [
        kept
    ]


def test_emulator_cancels_strictly_as_shopify_does(shop: ShopifyEmulator) -> None:
    order = shop.add_order(updated_at=T0)
    shop.cancel_order(order, reason="INVENTORY", at=T0 + timedelta(minutes=1))
    cancelled = shop.order(order)
    assert cancelled.financial_status == "REFUNDED"
    assert cancelled.fulfillment_status == "FULFILLMENT_NOT_REQUIRED"
    assert [fo.status for fo in cancelled.fulfillment_orders] == ["CANCELLED"]
    with pytest.raises(ValueError, match="already been cancelled"):
        shop.cancel_order(order)


def test_order_cancel_mutation_through_graphql(shop: ShopifyEmulator) -> None:
    import requests

    order = shop.add_order(updated_at=T0)
    url = shop.url + "/admin/api/2026-10/graphql.json"
    headers = {"X-Shopify-Access-Token": shop.token, "Content-Type": "application/json"}
    mutation = (
        "mutation C($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: true, "
        "restock: true) { job { id done } orderCancelUserErrors { code field message } } }"
    )
    for expected in ([], ["Order has already been cancelled"]):
        body = requests.post(
            url, headers=headers, json={"query": mutation, "variables": {"id": order}}, timeout=10
        ).json()
        errors = body["data"]["orderCancel"]["orderCancelUserErrors"]
        assert [e["message"] for e in errors] == expected
    assert shop.order(order).cancel_reason == "CUSTOMER"
    refused = requests.post(
        url,
        headers=headers,
        json={"query": mutation.replace("CUSTOMER", "BORED"), "variables": {"id": order}},
        timeout=10,
    ).json()
    assert refused.get("errors")  # not a reason Shopify knows

"""BigCommerceAdapter against the strict local BigCommerce emulator (real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from adapters import get_adapter
from adapters.base import RetryPolicy
from adapters.bigcommerce import BigCommerceAdapter
from dropstream.errors import AuthenticationError, ConfigurationError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from tests.servers.bigcommerce import BigCommerceEmulator, bigcommerce_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=5.0, jitter=0.01)
ORDERS = r"/stores/abc123/v2/orders"
DETAILS = r"/stores/abc123/v2/orders/\d+/(products|shipping_addresses)"
ADJUST = r"/stores/abc123/v3/inventory/adjustments/absolute"


@pytest.fixture
def store(bigcommerce_emulator: BigCommerceEmulator, monkeypatch: pytest.MonkeyPatch):
    value = bigcommerce_connection_json(bigcommerce_emulator)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", value)
    monkeypatch.setattr(BigCommerceAdapter, "retry_policy", FAST)
    return bigcommerce_emulator


@pytest.fixture
def adapter(store: BigCommerceEmulator):
    built = get_adapter("bigcommerce", CONN_ID, connection_name="acme")
    assert isinstance(built, BigCommerceAdapter)
    yield built
    built.close()


def shipment(order_id: int, tracking: str, *lines: tuple[int, int], carrier: str = "UPS"):
    return Shipment(
        order_number=str(order_id),
        tracking_number=tracking,
        carrier=carrier,
        order_id=str(order_id),
        lines=tuple(ShipmentLine(sku="", quantity=n, line_id=str(lid)) for lid, n in lines),
    )


def line_ids(store: BigCommerceEmulator, order_id: int) -> list[int]:
    return [p["id"] for p in store.products[order_id]]


# --- orders --------------------------------------------------------------------------------
def test_orders_across_pages_cost_the_floor(store: BigCommerceEmulator, adapter) -> None:
    ids = [store.add_order(modified_at=T0 + timedelta(seconds=i)) for i in range(520)]
    store.add_order(modified_at=T0, status_id=10)
    orders = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert [o.order_id for o in orders] == [str(i) for i in ids]
    assert store.calls("GET", ORDERS) == 3  # ceil(520 / 250)
    assert store.calls("GET", DETAILS) == 2 * 520  # products + shipping addresses per order
    assert len(store.requests) == 3 + 2 * 520
    first = store.requests[0]["query"]
    assert first["limit"] == ["250"] and first["status_id"] == ["11"]
    assert first["sort"] == ["date_modified:asc"]


def test_empty_window_is_one_204(store: BigCommerceEmulator, adapter) -> None:
    assert list(adapter.fetch_orders(T0, T0 + timedelta(hours=1))) == []
    assert [r["status"] for r in store.requests] == [204]


def test_window_is_half_open(store: BigCommerceEmulator, adapter) -> None:
    at_since = store.add_order(modified_at=T0)
    inside = store.add_order(modified_at=T0 + timedelta(minutes=5))
    at_until = store.add_order(modified_at=T0 + timedelta(minutes=15))
    store.add_order(modified_at=T0 - timedelta(seconds=1))
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=15))]
    assert got == [str(at_since), str(inside)]
    nxt = [o.order_id for o in adapter.fetch_orders(T0 + timedelta(minutes=15), T0 + timedelta(1))]
    assert nxt == [str(at_until)]


def test_mapping_non_ascii_and_exact_money(store: BigCommerceEmulator, adapter) -> None:
    address = {
        "first_name": "Zoë",
        "last_name": "Müller-Łukasiewicz",
        "company": "Bäckerei",
        "street_1": "Straße 5",
        "street_2": "2. OG",
        "city": "Köln",
        "state": "Nordrhein-Westfalen",
        "zip": "50667",
        "country": "Germany",
        "country_iso2": "DE",
        "phone": "+49 221 000",
        "email": "zoe@example.de",
        "shipping_method": "DHL Paket",
    }
    order_id = store.add_order(
        modified_at=T0,
        address=address,
        currency="EUR",
        lines=[("MUG-1", 2, "12.10"), ("TEE-9", 1, "0.30")],
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(1))
    assert order.order_id == order.number == str(order_id)
    assert order.ship_to.name == "Zoë Müller-Łukasiewicz" and order.ship_to.city == "Köln"
    assert (order.ship_to.country, order.currency, order.email) == ("DE", "EUR", "zoe@example.de")
    assert order.ship_method == "DHL Paket" and order.updated_at == T0
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.line_number) for ln in order.lines] == [
        ("MUG-1", 2, Decimal("12.10"), 1),
        ("TEE-9", 1, Decimal("0.30"), 2),
    ]
    assert sum(ln.unit_price * ln.quantity for ln in order.lines) == Decimal("24.50")
    assert order.lines[0].line_id == str(line_ids(store, order_id)[0])


def test_multi_address_order_is_skipped_not_fatal(store: BigCommerceEmulator, adapter) -> None:
    store.add_order(modified_at=T0, addresses=2)
    good = store.add_order(modified_at=T0 + timedelta(seconds=1))
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(1))] == [str(good)]


# --- throttling, failures, auth ------------------------------------------------------------
def test_429_storm_sleeps_the_reset_header(store: BigCommerceEmulator, adapter) -> None:
    store.add_order(modified_at=T0)
    store.throttle_next(4, reset_ms=1500)
    waits: list[float] = []
    adapter.client.sleep = waits.append
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in store.requests[:5]] == [429, 429, 429, 429, 200]
    assert len(waits) == 4 and all(1.5 <= w < 1.6 for w in waits)


def test_paces_before_being_throttled(store: BigCommerceEmulator, adapter) -> None:
    for i in range(4):
        store.add_order(modified_at=T0 + timedelta(seconds=i))
    store.rate_limit(quota=3, window_ms=200)  # 9 requests need three windows
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 4
    assert store.throttled == 0 and len(store.requests) == 9
    assert adapter.client.pacer.waits >= 2


def test_server_errors_are_retried(store: BigCommerceEmulator, adapter) -> None:
    store.add_order(modified_at=T0)
    store.fail_next(2, status=503)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in store.requests[:3]] == [503, 503, 200]


def test_bad_token_fails_fast_naming_the_connection(
    store: BigCommerceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = json.loads(bigcommerce_connection_json(store)) | {"password": "bc_wrong"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(bad))
    adapter = get_adapter("bigcommerce", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "'acme'" in message and CONN_ID in message and "401" in message
    assert "bc_wrong" not in message
    assert len(store.requests) == 1


def test_connection_ok_writes_nothing(store: BigCommerceEmulator, adapter) -> None:
    order_id = store.add_order(modified_at=T0, lines=[("A", 3, "1.00")])
    store.stock["A"] = 5
    adapter.test_connection()
    assert store.stock == {"A": 5} and not any(store.shipments.values())
    assert store.orders[order_id]["status_id"] == 11
    assert [r["status"] for r in store.requests[2:]] == [404, 422]  # past the scope check


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [
        (
            {"store_v2_orders_read_only", "store_inventory_read_only", "store_v2_information"},
            "Orders: modify (store_v2_orders), Store Inventory: modify (store_inventory)",
        ),
        ({"store_v2_orders", "store_inventory_read_only", "store_v2_information"}, "Store Inve"),
    ],
)
def test_read_only_scopes_fail_the_check_naming_them(
    store: BigCommerceEmulator, adapter, scopes: set[str], missing: str
) -> None:
    store.scopes = scopes
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert f"missing OAuth scopes: {missing}" in message and CONN_ID in message
    assert "Orders: modify" not in message or "store_v2_orders_read_only" in scopes


# --- shipments -----------------------------------------------------------------------------
def test_partial_shipment_then_rest(store: BigCommerceEmulator, adapter) -> None:
    order_id = store.add_order(modified_at=T0, lines=[("A", 3, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = line_ids(store, order_id)
    first = adapter.push_shipments([shipment(order_id, "1Z1", (line_a, 2))])
    assert first.accepted == (f"{order_id}|1Z1",) and not first.rejected
    assert store.orders[order_id]["status"] == "Partially Shipped"
    second = adapter.push_shipments([shipment(order_id, "1Z2", (line_a, 1), (line_b, 1))])
    assert second.accepted == (f"{order_id}|1Z2",)
    sent = store.shipments[order_id]
    assert [s["items"] for s in sent] == [
        [{"order_product_id": line_a, "quantity": 2}],
        [{"order_product_id": line_a, "quantity": 1}, {"order_product_id": line_b, "quantity": 1}],
    ]
    assert sent[0]["tracking_carrier"] == "ups" and sent[0]["order_address_id"]
    assert second.details[f"{order_id}|1Z2"] == str(sent[1]["id"])
    assert store.orders[order_id]["status"] == "Shipped"


def test_two_packages_in_one_push(store: BigCommerceEmulator, adapter) -> None:
    order_id = store.add_order(modified_at=T0, lines=[("A", 1, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = line_ids(store, order_id)
    result = adapter.push_shipments(
        [
            shipment(order_id, "PKG-1", (line_a, 1)),
            shipment(order_id, "PKG-2", (line_b, 1), carrier="Hermes"),
        ]
    )
    assert result.accepted == (f"{order_id}|PKG-1", f"{order_id}|PKG-2")
    sent = store.shipments[order_id]
    assert [s["tracking_number"] for s in sent] == ["PKG-1", "PKG-2"]
    assert "tracking_carrier" not in sent[1] and sent[1]["shipping_method"] == "Hermes"


def test_same_shipment_twice_makes_one(store: BigCommerceEmulator, adapter) -> None:
    order_id = store.add_order(modified_at=T0, lines=[("A", 2, "1.00")])
    package = shipment(order_id, "1ZSAME", (line_ids(store, order_id)[0], 1))
    first = adapter.push_shipments([package])
    again = adapter.push_shipments([package])
    assert first.accepted == again.accepted == (package.key,)
    assert first.details == again.details
    assert len(store.shipments[order_id]) == 1


def test_unknown_order_and_overshipment_rejected(store: BigCommerceEmulator, adapter) -> None:
    order_id = store.add_order(modified_at=T0, lines=[("A", 1, "1.00")])
    line = line_ids(store, order_id)[0]
    adapter.push_shipments([shipment(order_id, "1ZA", (line, 1))])
    result = adapter.push_shipments(
        [shipment(order_id, "1ZB", (line, 1)), shipment(999999, "1ZC", (1, 1))]
    )
    assert result.accepted == ()
    reasons = dict(result.rejected)
    assert "nothing left to ship" in reasons[f"{order_id}|1ZB"]
    assert "404" in reasons["999999|1ZC"] or "not found" in reasons["999999|1ZC"]


# --- inventory -----------------------------------------------------------------------------
def test_inventory_batches_at_exactly_the_cap(store: BigCommerceEmulator, adapter) -> None:
    for i in range(4000):
        store.add_product(f"SKU-{i:04d}", 1)
    result = adapter.push_inventory([InventoryLevel(f"SKU-{i:04d}", i) for i in range(4000)])
    assert len(result.accepted) == 4000 and not result.rejected
    assert store.calls("PUT", ADJUST) == 2 and len(store.requests) == 2  # ceil(4000 / 2000)
    assert store.stock == {f"SKU-{i:04d}": i for i in range(4000)}
    assert store.requests[0]["body"]["items"][0] == {
        "location_id": 1,
        "sku": "SKU-0000",
        "quantity": 0,
    }


def test_unknown_sku_rejected_rest_applied(store: BigCommerceEmulator, adapter) -> None:
    store.add_product("MUG-RED", 4)
    store.add_product("Größe L/XL", 1)
    result = adapter.push_inventory(
        [InventoryLevel("MUG-RED", 7), InventoryLevel("NOPE", 3), InventoryLevel("Größe L/XL", 0)]
    )
    assert result.accepted == ("MUG-RED", "Größe L/XL")
    ((sku, reason),) = result.rejected
    assert sku == "NOPE" and "not found" in reason
    assert store.stock == {"MUG-RED": 7, "Größe L/XL": 0}
    assert [r["status"] for r in store.requests] == [422, 200]  # refused batch, then the rest


def test_emulator_is_strict(store: BigCommerceEmulator, adapter) -> None:
    http = adapter.client
    with pytest.raises(ConfigurationError, match="400"):
        http.call("GET", "v2/orders", params={"limit": 251})
    with pytest.raises(ConfigurationError, match="405"):
        http.call("DELETE", "v3/inventory/adjustments/absolute")
    items = [{"location_id": 1, "sku": "X", "quantity": 1}] * 2001
    with pytest.raises(Exception, match="at most 2000"):
        http.call("PUT", "v3/inventory/adjustments/absolute", json={"reason": "x", "items": items})


def _bc_call(emulator: BigCommerceEmulator, method: str, path: str, **kwargs):
    headers = {"X-Auth-Token": emulator.token, "Accept": "application/json"}
    return requests.request(method, emulator.host + path, headers=headers, timeout=5, **kwargs)


def test_the_emulator_rejects_an_unknown_query_parameter(bigcommerce_emulator):
    reply = _bc_call(bigcommerce_emulator, "GET", "/v2/orders", params={"updated_since": "x"})
    assert reply.status_code == 400
    assert "'updated_since'" in reply.json()[0]["message"]
    fine = _bc_call(bigcommerce_emulator, "GET", "/v2/orders", params={"limit": 5})
    assert fine.status_code == 204  # an empty store: no orders


def test_the_emulator_rejects_an_unknown_body_field(bigcommerce_emulator):
    bigcommerce_emulator.add_product("SKU-1", 0)
    item = {"location_id": 1, "sku": "SKU-1", "quantity": 4, "qty": 4}
    reply = _bc_call(
        bigcommerce_emulator,
        "PUT",
        "/v3/inventory/adjustments/absolute",
        json={"reason": "x", "items": [item]},
    )
    assert reply.status_code == 422 and "items.0.qty" in reply.json()["errors"]
    assert bigcommerce_emulator.stock["SKU-1"] == 0


def test_digital_products_need_no_shipping(store: BigCommerceEmulator, adapter) -> None:
    store.add_order(
        modified_at=T0, lines=(("EBOOK", 1, "5"), ("MUG", 2, "9")), digital_skus={"EBOOK"}
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(minutes=15))
    assert [(ln.sku, ln.requires_shipping) for ln in order.lines] == [
        ("EBOOK", False),
        ("MUG", True),
    ]


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_are_status_5_orders_in_the_window(store: BigCommerceEmulator, adapter):
    kept = store.add_order(modified_at=T0)
    cancelled = store.add_order(modified_at=T0, lines=(("MUG", 2, "12.50"),))
    earlier = store.add_order(modified_at=T0)
    store.cancel_order(cancelled, at=T0 + timedelta(minutes=7))
    store.cancel_order(earlier, at=T0 - timedelta(minutes=1))
    before = store.calls("GET", ORDERS)
    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))
    assert store.calls("GET", ORDERS) - before == 1  # one listing (and the order's details)
    assert store.requests[-3]["query"]["status_id"] == ["5"]
    assert [(c.order.order_id, c.cancelled_at, c.reason) for c in found] == [
        (str(cancelled), T0 + timedelta(minutes=7), "cancelled in BigCommerce (status Cancelled)")
    ]
    assert [(ln.sku, ln.quantity) for ln in found[0].order.lines] == [("MUG", 2)]
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(hours=1))] == [str(kept)]
    with pytest.raises(ValueError, match="cancelled already"):
        store.cancel_order(cancelled, at=T0 + timedelta(minutes=9))
    store.shipments[kept].append({"id": 1})
    with pytest.raises(ValueError, match="has shipments"):
        store.cancel_order(kept, at=T0 + timedelta(minutes=9))

"""WooCommerceAdapter against the strict local WooCommerce emulator (real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters import get_adapter
from adapters.base import RetryPolicy
from adapters.woocommerce import WooCommerceAdapter
from dropstream.errors import AuthenticationError, TransientError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from tests.servers.woocommerce import WooCommerceEmulator, woocommerce_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=5.0, jitter=0.01)
ORDERS = r"/wp-json/wc/v3/orders"


@pytest.fixture
def site(woocommerce_emulator: WooCommerceEmulator, monkeypatch: pytest.MonkeyPatch):
    connect(woocommerce_emulator, monkeypatch)
    monkeypatch.setattr(WooCommerceAdapter, "retry_policy", FAST)
    return woocommerce_emulator


def connect(site: WooCommerceEmulator, monkeypatch: pytest.MonkeyPatch, **extra) -> None:
    value = woocommerce_connection_json(site, **extra)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", value)


@pytest.fixture
def adapter(site: WooCommerceEmulator):
    built = get_adapter("woocommerce", CONN_ID, connection_name="acme")
    assert isinstance(built, WooCommerceAdapter)
    yield built
    built.close()


def shipment(order_id: int, tracking: str, *lines: tuple[int, int]) -> Shipment:
    return Shipment(
        order_number=str(order_id),
        tracking_number=tracking,
        carrier="UPS",
        order_id=str(order_id),
        lines=tuple(ShipmentLine(sku="", quantity=n, line_id=str(lid)) for lid, n in lines),
    )


def line_ids(site: WooCommerceEmulator, order_id: int) -> list[int]:
    return [item["id"] for item in site.orders[order_id]["line_items"]]


# --- orders --------------------------------------------------------------------------------
def test_orders_across_pages_cost_the_floor(site: WooCommerceEmulator, adapter) -> None:
    ids = [site.add_order(modified_at=T0 + timedelta(seconds=i)) for i in range(250)]
    site.add_order(modified_at=T0, status="on-hold")
    orders = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert [o.order_id for o in orders] == [str(i) for i in ids]
    assert site.calls("GET", ORDERS) == 3  # ceil(250 / 100)
    first = site.requests[0]["query"]
    assert first["per_page"] == ["100"] and first["status"] == ["processing"]
    assert first["orderby"] == ["id"] and first["dates_are_gmt"] == ["true"]


def test_lines_of_virtual_products_and_variations_need_no_shipping(
    site: WooCommerceEmulator, adapter
) -> None:
    """WooCommerce ships what is not ``virtual``: downloadable alone still ships; a variation
    is virtual on its own; a line whose product is gone (or never was) ships."""
    site.add_product("MUG", stock=5)
    site.add_product("EBOOK", stock=None, virtual=True, downloadable=True)
    site.add_product("CD", stock=3, downloadable=True)  # an album with its download: shipped
    tee = site.add_product("TEE", stock=None)
    printed = site.add_product("TEE-PRINTED", stock=2, variation_of=tee)
    pdf = site.add_product("TEE-PATTERN-PDF", stock=None, variation_of=tee, virtual=True)
    gift = site.add_product("GIFT-25", stock=None, virtual=True)
    lines = [("MUG", 1, "9.00"), ("EBOOK", 1, "4.00"), ("CD", 1, "12.00"), ("TEE-PRINTED", 1, "15"),
             ("TEE-PATTERN-PDF", 1, "3.00"), ("CUSTOM", 1, "1.00")]  # fmt: skip
    mixed = site.add_order(modified_at=T0, lines=lines)
    only_gift = site.add_order(modified_at=T0, lines=[("GIFT-25", 2, "25.00")])
    orders = {o.order_id: o for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=15))}
    assert [(ln.sku, ln.requires_shipping) for ln in orders[str(mixed)].lines] == [
        ("MUG", True), ("EBOOK", False), ("CD", True),
        ("TEE-PRINTED", True), ("TEE-PATTERN-PDF", False), ("CUSTOM", True),
    ]  # fmt: skip
    assert [ln.requires_shipping for ln in orders[str(only_gift)].lines] == [False]
    reads = [r for r in site.requests if r["path"] != ORDERS]
    assert [r["path"] for r in reads] == [
        "/wp-json/wc/v3/products",
        f"/wp-json/wc/v3/products/{tee}/variations",
    ]  # one read of the products, one of the variable product's variations
    products = {item["product_id"] for item in site.orders[mixed]["line_items"][:3]} | {gift}
    assert sorted(reads[0]["query"]["include"][0].split(",")) == sorted(map(str, products))
    assert reads[1]["query"]["include"] == [f"{min(printed, pdf)},{max(printed, pdf)}"]
    assert reads[0]["query"]["_fields"] == ["id,virtual"]


def test_lines_of_deleted_products_ship_and_a_product_is_read_once_per_fetch(
    site: WooCommerceEmulator, adapter
) -> None:
    tee = site.add_product("TEE", stock=None)
    site.add_product("TEE-PDF", stock=None, variation_of=tee, virtual=True)
    ebook = site.add_product("EBOOK", stock=None, virtual=True)
    site.add_order(modified_at=T0, lines=[("TEE-PDF", 1, "3.00"), ("EBOOK", 1, "4.00")])
    for i in range(150):  # two pages of orders of one virtual product
        site.add_order(modified_at=T0 + timedelta(seconds=i + 1), lines=[("EBOOK", 1, "4.00")])
    del site.products[tee]  # deleted since the order: its variation is gone with it
    orders = list(adapter.fetch_orders(T0, T0 + timedelta(minutes=15)))
    assert [ln.requires_shipping for ln in orders[0].lines] == [True, False]
    assert all(not ln.requires_shipping for o in orders[1:] for ln in o.lines)
    reads = [(r["path"], r.get("status")) for r in site.requests if r["path"] != ORDERS]
    assert reads == [  # EBOOK read once, on the first page; the variations' parent is gone
        ("/wp-json/wc/v3/products", 200),
        (f"/wp-json/wc/v3/products/{tee}/variations", 404),
    ]
    assert site.requests[1]["query"]["include"] == [str(ebook)]


def test_window_is_half_open(site: WooCommerceEmulator, adapter) -> None:
    at_since = site.add_order(modified_at=T0)
    inside = site.add_order(modified_at=T0 + timedelta(minutes=5))
    at_until = site.add_order(modified_at=T0 + timedelta(minutes=15))
    site.add_order(modified_at=T0 - timedelta(seconds=1))
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=15))]
    assert got == [str(at_since), str(inside)]
    nxt = [o.order_id for o in adapter.fetch_orders(T0 + timedelta(minutes=15), T0 + timedelta(1))]
    assert nxt == [str(at_until)]


def test_order_that_leaves_the_set_while_paging_skips_no_other(
    site: WooCommerceEmulator, adapter
) -> None:
    ids = [site.add_order(modified_at=T0 + timedelta(seconds=i)) for i in range(150)]
    orders = adapter.fetch_orders(T0, T0 + timedelta(hours=1))
    got = [next(orders).order_id]
    site.orders[ids[3]]["status"] = "completed"  # shipped elsewhere after page 1 was read
    got += [o.order_id for o in orders]
    assert sorted(set(got), key=int) == [str(i) for i in ids] and len(got) == len(set(got))
    assert site.calls("GET", ORDERS) == 4  # pages 1-2, total changed, pages 1-2 again


def test_mapping_non_ascii_and_exact_money(site: WooCommerceEmulator, adapter) -> None:
    address = {
        "first_name": "Zoë",
        "last_name": "Müller-Łukasiewicz",
        "company": "Bäckerei",
        "address_1": "Straße 5",
        "address_2": "2. OG",
        "city": "Köln",
        "state": "NW",
        "postcode": "50667",
        "country": "DE",
        "phone": "+49 221 000",
    }
    order_id = site.add_order(
        modified_at=T0,
        shipping=address,
        currency="EUR",
        method_title="DHL Paket",
        lines=[("MUG-1", 2, "12.10"), ("TEE-9", 1, "0.30")],
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(1))
    assert order.order_id == str(order_id) and order.number == str(order_id)
    assert order.ship_to.name == "Zoë Müller-Łukasiewicz" and order.ship_to.city == "Köln"
    assert (order.ship_to.country, order.ship_to.state, order.currency) == ("DE", "NW", "EUR")
    assert order.ship_method == "DHL Paket" and order.email == "buyer@example.com"
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.line_number) for ln in order.lines] == [
        ("MUG-1", 2, Decimal("12.10"), 1),
        ("TEE-9", 1, Decimal("0.30"), 2),
    ]
    assert all(isinstance(ln.unit_price, Decimal) for ln in order.lines)
    assert sum(ln.unit_price * ln.quantity for ln in order.lines) == Decimal("24.50")
    assert order.lines[0].line_id == str(line_ids(site, order_id)[0])
    assert order.updated_at == T0


# --- throttling, failures, auth ------------------------------------------------------------
def test_429_storm_honours_retry_after(site: WooCommerceEmulator, adapter) -> None:
    site.add_order(modified_at=T0)
    site.throttle_next(4, retry_after="2")
    waits: list[float] = []
    adapter.client.sleep = waits.append
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in site.requests] == [429, 429, 429, 429, 200]
    assert len(waits) == 4 and all(2.0 <= w < 2.1 for w in waits)


def test_server_errors_are_retried(site: WooCommerceEmulator, adapter) -> None:
    site.add_order(modified_at=T0)
    site.fail_next(2, status=503)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in site.requests] == [503, 503, 200]


@pytest.mark.parametrize("query_string_auth", [False, True])
def test_wrong_secret_fails_fast_naming_the_connection(
    site: WooCommerceEmulator, monkeypatch: pytest.MonkeyPatch, query_string_auth: bool
) -> None:
    bad = json.loads(woocommerce_connection_json(site, query_string_auth=query_string_auth))
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(bad | {"password": "cs_nope"}))
    adapter = get_adapter("woocommerce", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "'acme'" in message and CONN_ID in message and "401" in message
    assert "cs_nope" not in message
    assert len(site.requests) == 1


def test_query_string_auth_works(site: WooCommerceEmulator, monkeypatch) -> None:
    connect(site, monkeypatch, query_string_auth=True)
    adapter = get_adapter("woocommerce", CONN_ID, connection_name="acme")
    adapter.test_connection()
    assert site.requests[0]["query"]["consumer_key"] == [site.key]


@pytest.mark.parametrize(("permissions", "lacks"), [("read", "Write"), ("write", "Read")])
def test_key_without_read_write_fails_the_check_naming_the_permission(
    site: WooCommerceEmulator, adapter, permissions: str, lacks: str
) -> None:
    site.permissions = permissions
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert f"lacks {lacks} permission" in message and "Read/Write" in message
    assert "Settings > Advanced > REST API" in message and CONN_ID in message


def test_read_write_key_passes_the_check_and_writes_nothing(site: WooCommerceEmulator, adapter):
    product = site.add_product("SKU-1", stock=7)
    before = dict(site.products[product])
    adapter.test_connection()
    assert site.calls("POST", r".*/products/batch") == 1
    assert site.products[product] == before


# --- shipments -----------------------------------------------------------------------------
def test_partial_shipment_then_rest_completes(site: WooCommerceEmulator, adapter) -> None:
    order_id = site.add_order(modified_at=T0, lines=[("A", 3, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = line_ids(site, order_id)
    first = adapter.push_shipments([shipment(order_id, "1Z1", (line_a, 2))])
    assert first.accepted == (f"{order_id}|1Z1",) and not first.rejected
    assert site.orders[order_id]["status"] == "processing"
    second = adapter.push_shipments([shipment(order_id, "1Z2", (line_a, 1), (line_b, 1))])
    assert second.accepted == (f"{order_id}|1Z2",)
    assert [t["tracking_number"] for t in site.trackings[order_id]] == ["1Z1", "1Z2"]
    assert second.details[f"{order_id}|1Z2"] == site.trackings[order_id][1]["tracking_id"]
    assert site.orders[order_id]["status"] == "completed"


def test_two_packages_in_one_push(site: WooCommerceEmulator, adapter) -> None:
    order_id = site.add_order(modified_at=T0, lines=[("A", 1, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = line_ids(site, order_id)
    result = adapter.push_shipments(
        [shipment(order_id, "PKG-1", (line_a, 1)), shipment(order_id, "PKG-2", (line_b, 1))]
    )
    assert result.accepted == (f"{order_id}|PKG-1", f"{order_id}|PKG-2")
    assert [t["tracking_number"] for t in site.trackings[order_id]] == ["PKG-1", "PKG-2"]
    assert site.orders[order_id]["status"] == "completed"


def test_same_shipment_twice_makes_one_tracking(site: WooCommerceEmulator, adapter) -> None:
    order_id = site.add_order(modified_at=T0, lines=[("A", 2, "1.00")])
    package = shipment(order_id, "1ZSAME", (line_ids(site, order_id)[0], 1))
    first = adapter.push_shipments([package])
    again = adapter.push_shipments([package])
    assert first.accepted == again.accepted == (package.key,)
    assert first.details == again.details
    assert len(site.trackings[order_id]) == 1


def test_crash_after_tracking_before_bookkeeping_adds_nothing_twice(
    site: WooCommerceEmulator, adapter
) -> None:
    order_id = site.add_order(modified_at=T0, lines=[("A", 1, "1.00")])
    site.trackings[order_id] = [
        {
            "tracking_id": "abc",
            "tracking_number": "1ZX",
            "tracking_provider": "UPS",
            "tracking_link": "",
            "date_shipped": "2026-03-01",
        }
    ]
    result = adapter.push_shipments([shipment(order_id, "1ZX", (line_ids(site, order_id)[0], 1))])
    assert result.details == {f"{order_id}|1ZX": "abc"}
    assert len(site.trackings[order_id]) == 1 and site.orders[order_id]["status"] == "completed"


def test_without_extension_note_then_complete(site: WooCommerceEmulator, adapter) -> None:
    site.tracking_extension = False
    order_id = site.add_order(modified_at=T0, lines=[("A", 2, "1.00"), ("B", 1, "2.00")])
    other = site.add_order(modified_at=T0, lines=[("C", 1, "1.00")])
    line_a, line_b = line_ids(site, order_id)
    partial = shipment(order_id, "1ZP", (line_a, 1))
    result = adapter.push_shipments(
        [partial, shipment(other, "1ZO", (line_ids(site, other)[0], 1))]
    )
    assert len(result.accepted) == 2
    assert site.orders[order_id]["status"] == "processing"  # partial: note only
    assert site.orders[other]["status"] == "completed"
    (note,) = site.notes[order_id]
    assert note["customer_note"] and "1ZP" in note["note"] and "1 × A" in note["note"]
    detections = [r for r in site.requests if "shipment-trackings" in r["path"]]
    assert len(detections) == 1  # detected once per run
    adapter.push_shipments([partial])  # again: nothing new
    rest = adapter.push_shipments([shipment(order_id, "1ZR", (line_a, 1), (line_b, 1))])
    assert rest.accepted == (f"{order_id}|1ZR",)
    assert [n["note"].split(":")[1].split(".")[0] for n in site.notes[order_id]] == [
        " tracking number 1ZP",
        " tracking number 1ZR",
    ]
    assert site.orders[order_id]["status"] == "completed"


def test_unknown_order_and_line_are_rejected(site: WooCommerceEmulator, adapter) -> None:
    order_id = site.add_order(modified_at=T0, lines=[("A", 1, "1.00")])
    result = adapter.push_shipments(
        [shipment(999999, "1ZA", (1, 1)), shipment(order_id, "1ZB", (12345, 1))]
    )
    assert result.accepted == ()
    reasons = dict(result.rejected)
    assert "not found" in reasons["999999|1ZA"] and "no line 12345" in reasons[f"{order_id}|1ZB"]


# --- inventory -----------------------------------------------------------------------------
def test_inventory_batches_at_exactly_the_cap(site: WooCommerceEmulator, adapter) -> None:
    for i in range(200):
        site.add_product(f"SKU-{i:03d}", stock=1)
    parent = site.add_product("", stock=None)
    for i in range(100):
        site.add_product(f"VAR-{i:03d}", stock=1, variation_of=parent)
    levels = [InventoryLevel(f"SKU-{i:03d}", i + 2) for i in range(200)]
    levels += [InventoryLevel(f"VAR-{i:03d}", i + 2) for i in range(100)]
    result = adapter.push_inventory(levels)
    assert len(result.accepted) == 300 and not result.rejected
    assert site.calls("GET", r"/wp-json/wc/v3/products") == 3  # SKU resolution: ceil(300 / 100)
    assert site.calls("POST", r"/wp-json/wc/v3/products/batch") == 2  # ceil(200 / 100)
    assert site.calls("POST", rf"/wp-json/wc/v3/products/{parent}/variations/batch") == 1
    assert site.stock == {level.sku: level.available for level in levels}
    # Second run, same adapter: ids are cached, only writes.
    before = len(site.requests)
    adapter.push_inventory([InventoryLevel("SKU-000", 50)])
    assert len(site.requests) == before + 1


def test_unchanged_skus_cost_nothing(site: WooCommerceEmulator, adapter) -> None:
    site.add_product("SAME", stock=4)
    result = adapter.push_inventory([InventoryLevel("SAME", 4)])
    assert result.accepted == ("SAME",)
    assert site.calls("POST", r".*batch") == 0


def test_unknown_sku_and_case_mismatch_rejected(site: WooCommerceEmulator, adapter) -> None:
    site.add_product("MUG-RED", 4)
    site.add_product("mug-blue", 4)
    site.add_product("Größe L/XL", 1)
    site.add_product("A,B", 1)
    levels = [
        InventoryLevel("MUG-RED", 7),
        InventoryLevel("NOPE", 3),
        InventoryLevel("MUG-BLUE", 2),
        InventoryLevel("Größe L/XL", 0),
        InventoryLevel("A,B", 9),
    ]
    result = adapter.push_inventory(levels)
    assert set(result.accepted) == {"MUG-RED", "Größe L/XL", "A,B"}
    assert dict(result.rejected) == {
        "NOPE": "SKU not found in store",
        "MUG-BLUE": "SKU not found in store",
    }
    assert site.stock == {"MUG-RED": 7, "mug-blue": 4, "Größe L/XL": 0, "A,B": 9}
    assert site.calls("POST", r".*batch") == 1


def test_emulator_is_strict(site: WooCommerceEmulator, adapter) -> None:
    http = adapter.client
    from dropstream.errors import ConfigurationError, NotFoundError

    with pytest.raises(ConfigurationError, match="rest_invalid_param"):
        http.call("GET", "wp-json/wc/v3/orders", params={"per_page": 101})
    with pytest.raises(ConfigurationError, match="413"):
        http.call("POST", "wp-json/wc/v3/products/batch", json={"update": [{"id": 1}] * 101})
    with pytest.raises(NotFoundError, match="rest_no_route"):
        http.call("DELETE", "wp-json/wc/v3/orders")


def test_unreachable_store_error_never_shows_query_string_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With query-string auth the secret is in every URL; a connection error must not echo it."""
    from tests.servers.sshd import free_port

    secret = "cs_never_print_me"
    conn = {
        "conn_type": "http",
        "host": f"http://127.0.0.1:{free_port()}",
        "login": "ck_key",
        "password": secret,
        "extra": {"query_string_auth": True},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WOO_DOWN", json.dumps(conn))
    monkeypatch.setattr(WooCommerceAdapter, "retry_policy", FAST)
    adapter = get_adapter("woocommerce", "woo_down", connection_name="acme")
    with pytest.raises(TransientError) as caught:
        adapter.test_connection()
    assert secret not in str(caught.value) and "cannot reach" in str(caught.value)


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_are_cancelled_and_refunded_orders_in_the_window(
    site: WooCommerceEmulator, adapter
) -> None:
    kept = site.add_order(modified_at=T0)
    cancelled = site.add_order(modified_at=T0)
    refunded = site.add_order(modified_at=T0, lines=(("MUG", 2, "12.50"),))
    later = site.add_order(modified_at=T0)
    site.cancel_order(cancelled, at=T0 + timedelta(minutes=2))
    site.cancel_order(
        refunded, at=T0 + timedelta(minutes=4), status="refunded", reason="out of stock"
    )
    site.cancel_order(later, at=T0 + timedelta(minutes=15))  # the next window's
    before = site.calls("GET", r"/wp-json/wc/v3/orders")
    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))
    assert site.calls("GET", r"/wp-json/wc/v3/orders") - before == 1
    assert [(c.order.order_id, c.cancelled_at, c.reason) for c in found] == [
        (str(cancelled), T0 + timedelta(minutes=2), "cancelled in WooCommerce"),
        (str(refunded), T0 + timedelta(minutes=4), "refunded in WooCommerce (out of stock)"),
    ]
    assert site.orders[refunded]["refunds"][0]["total"] == "-25.00"
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(hours=1))] == [str(kept)]
    with pytest.raises(ValueError, match="cancelled already"):
        site.cancel_order(cancelled, at=T0 + timedelta(minutes=20))
    with pytest.raises(ValueError, match="cancelled or refunded"):
        site.cancel_order(kept, at=T0, status="trash")

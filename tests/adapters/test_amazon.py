"""AmazonAdapter against the strict local SP-API + Login with Amazon emulator (real HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters import get_adapter
from adapters.amazon import AmazonAdapter, listings
from adapters.base import RetryPolicy
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    TransientError,
)
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from tests.servers.amazon import AmazonEmulator, amazon_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.2, jitter=0.01)
ORDERS = "/orders/2026-01-01/orders"
TOKEN = "/auth/o2/token"
CONFIRM = "/orders/v0/orders/"
LISTINGS = "/listings/2021-08-01/items/"


@pytest.fixture
def amazon(amazon_emulator: AmazonEmulator, monkeypatch: pytest.MonkeyPatch) -> AmazonEmulator:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", amazon_connection_json(amazon_emulator))
    monkeypatch.setattr(AmazonAdapter, "retry_policy", FAST)
    monkeypatch.setattr(AmazonAdapter, "feed_poll_seconds", 0.01)
    return amazon_emulator


@pytest.fixture
def adapter(amazon: AmazonEmulator) -> AmazonAdapter:
    built = get_adapter("amazon", CONN_ID, connection_name="acme")
    assert isinstance(built, AmazonAdapter)
    yield built
    built.close()


def shipment(
    order_id: str, tracking: str, *lines: tuple[str, int], carrier: str = "UPS", sku: str = ""
) -> Shipment:
    return Shipment(
        order_number=order_id,
        tracking_number=tracking,
        carrier=carrier,
        service="Ground",
        order_id=order_id,
        shipped_at=T0,
        lines=tuple(ShipmentLine(sku=sku, quantity=n, line_id=lid) for lid, n in lines),
    )


def item_ids(amazon: AmazonEmulator, order_id: str) -> list[str]:
    return [item["orderItemId"] for item in amazon.orders[order_id]["orderItems"]]


# --- orders --------------------------------------------------------------------------------
def test_orders_across_three_pages_with_unchanged_parameters(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    ids = [amazon.add_order(updated_at=T0 + timedelta(seconds=i)) for i in range(250)]
    orders = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert [o.order_id for o in orders] == ids
    searches = [r for r in amazon.requests if r["path"] == ORDERS]
    assert len(searches) == 3  # ceil(250 / 100)
    first = {k: v for k, v in searches[0]["query"].items()}
    assert first["maxResultsPerPage"] == ["100"] and first["fulfilledBy"] == ["MERCHANT"]
    assert first["fulfillmentStatuses"] == ["UNSHIPPED,PARTIALLY_SHIPPED"]
    assert first["includedData"] == ["BUYER,RECIPIENT,FULFILLMENT"]
    for later in searches[1:]:
        rest = {k: v for k, v in later["query"].items() if k != "paginationToken"}
        assert rest == first and "paginationToken" in later["query"]
    assert amazon.calls("POST", TOKEN) == 1
    assert all(r["token"] for r in searches)


def test_window_is_half_open(amazon: AmazonEmulator, adapter: AmazonAdapter) -> None:
    at_since = amazon.add_order(updated_at=T0)
    inside = amazon.add_order(updated_at=T0 + timedelta(minutes=5, microseconds=1))
    at_until = amazon.add_order(updated_at=T0 + timedelta(minutes=15))
    amazon.add_order(updated_at=T0 - timedelta(microseconds=1))
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=15))]
    assert got == [at_since, inside]
    later = adapter.fetch_orders(T0 + timedelta(minutes=15), T0 + timedelta(minutes=30))
    assert [o.order_id for o in later] == [at_until]


def test_only_unshipped_merchant_fulfilled_orders(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    unshipped = amazon.add_order(updated_at=T0)
    partial = amazon.add_order(updated_at=T0, status="PARTIALLY_SHIPPED")
    amazon.add_order(updated_at=T0, fulfilled_by="AMAZON")
    amazon.add_order(updated_at=T0, status="PENDING")
    amazon.add_order(updated_at=T0, status="SHIPPED")
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(1))]
    assert got == [unshipped, partial]


def test_items_with_a_service_or_gift_wrap_are_shipped_and_the_service_is_no_line(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    """Amazon order items carry no "needs no shipping" mark (docs/platforms.md): a value-add
    service bought with an item is its own order (``associatedOrderItems``), not a line here,
    and gift wrap is packing of a shipped item."""
    order_id = amazon.add_order(
        updated_at=T0,
        lines=[("TIRE-17", 4, "80.00"), ("MUG", 1, "9.00")],
        services={"TIRE-17": "333-1234567-7654321"},
        gift_skus={"MUG"},
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(minutes=15))
    assert order.order_id == order_id
    assert [(ln.sku, ln.quantity, ln.requires_shipping) for ln in order.lines] == [
        ("TIRE-17", 4, True),
        ("MUG", 1, True),
    ]
    item = amazon.orders[order_id]["orderItems"][0]
    assert item["associatedOrderItems"][0]["associationType"] == "VALUE_ADD_SERVICE"


def test_non_ascii_address_and_exact_money(amazon: AmazonEmulator, adapter: AmazonAdapter) -> None:
    address = {
        "name": "Zoë Müller-Łukasiewicz",
        "addressLine1": "Straße 5",
        "addressLine2": "2. OG",
        "city": "Köln",
        "stateOrRegion": "NRW",
        "postalCode": "50667",
        "countryCode": "DE",
        "phone": "+49 221 000",
    }
    order_id = amazon.add_order(
        updated_at=T0,
        address=address,
        currency="EUR",
        lines=[("MUG-1", 2, "12.10"), ("TEE-9", 1, "0.30")],
        service_level="Expedited",
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(1))
    assert order.order_id == order.number == order_id
    assert order.ship_to.name == "Zoë Müller-Łukasiewicz" and order.ship_to.city == "Köln"
    assert (order.ship_to.address1, order.ship_to.country) == ("Straße 5", "DE")
    assert order.currency == "EUR" and order.ship_method == "Expedited"
    assert order.email.endswith("@marketplace.amazon.com")
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in order.lines] == [
        ("MUG-1", 2, Decimal("12.10")),
        ("TEE-9", 1, Decimal("0.30")),
    ]
    assert sum(ln.unit_price * ln.quantity for ln in order.lines) == Decimal("24.50")
    assert [ln.line_id for ln in order.lines] == item_ids(amazon, order_id)


def test_page_size_over_the_cap_is_refused(amazon: AmazonEmulator) -> None:
    adapter = get_adapter("amazon", CONN_ID, {"page_size": 101}, connection_name="acme")
    with pytest.raises(ConfigurationError, match="maxResultsPerPage"):
        list(adapter.fetch_orders(T0, T0 + timedelta(1)))
    assert amazon.calls("GET", ORDERS) == 1


# --- throttling, failures, auth ------------------------------------------------------------
def test_429_storm_backs_off_by_the_announced_rate(
    amazon: AmazonEmulator, adapter: AmazonAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    amazon.add_order(updated_at=T0)
    amazon.rate_limit = "0.0056"  # searchOrders: one request per ~179 s
    amazon.fail_next(3, status=429)
    patient = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=190.0, jitter=0.01)
    monkeypatch.setattr(AmazonAdapter, "retry_policy", patient)
    waits: list[float] = []
    monkeypatch.setattr(adapter.http, "sleep", waits.append)  # record, don't wait 3 minutes
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in amazon.requests if r["path"] == ORDERS] == [429] * 3 + [200]
    assert len(waits) == 3 and all(178.5 < w < 179.2 for w in waits)


def test_server_errors_then_success(amazon: AmazonEmulator, adapter: AmazonAdapter) -> None:
    amazon.add_order(updated_at=T0)
    amazon.fail_next(2, status=503)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in amazon.requests if r["path"] == ORDERS] == [503, 503, 200]


def test_expired_access_token_is_refreshed_once(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    amazon.add_order(updated_at=T0)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    amazon.expire_tokens()
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert amazon.calls("POST", TOKEN) == 2
    assert [r["status"] for r in amazon.requests] == [200, 200, 403, 200, 200]


def test_missing_role_403_is_not_a_token_refresh(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    adapter.test_connection()
    amazon.seller_id = "ANOTHERSELLER"  # PATCH for someone else's seller id: plain 403
    with pytest.raises(AuthenticationError, match="403"):
        adapter.push_inventory([InventoryLevel("A", 1)])
    assert amazon.calls("POST", TOKEN) == 1


@pytest.mark.parametrize(
    "bad", [{"password": "amzn1.oa2-cs.v1.WRONG"}, {"refresh_token": "Atzr|revoked-token"}]
)
def test_wrong_credentials_fail_fast_naming_the_connection(
    amazon: AmazonEmulator, monkeypatch: pytest.MonkeyPatch, bad: dict
) -> None:
    conn = json.loads(amazon_connection_json(amazon))
    if "password" in bad:
        conn |= bad
    else:
        conn["extra"] |= bad
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    adapter = get_adapter("amazon", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "'acme'" in message and CONN_ID in message and "refresh_token" in message
    assert "WRONG" not in message and "revoked-token" not in message
    assert [r["path"] for r in amazon.requests] == [TOKEN]  # no retry storm


def test_connection_checks_marketplace(
    amazon: AmazonEmulator, adapter: AmazonAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter.test_connection()
    conn = json.loads(amazon_connection_json(amazon, marketplace_id="A1PA6795UKMFR9"))
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    other = get_adapter("amazon", CONN_ID, connection_name="acme")
    with pytest.raises(NotFoundError, match="A1PA6795UKMFR9"):
        other.test_connection()


@pytest.mark.parametrize(
    ("roles", "missing"),
    [
        (set(), "Inventory and Order Tracking, Product Listing"),
        ({"Inventory and Order Tracking"}, "Product Listing"),
        ({"Product Listing"}, "Inventory and Order Tracking"),
    ],
)
def test_missing_roles_fail_the_check_naming_them(
    amazon: AmazonEmulator, adapter: AmazonAdapter, roles: set[str], missing: str
) -> None:
    amazon.roles = roles
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert f"lacks the role(s) {missing}. Request them" in message and CONN_ID in message
    assert amazon.calls("POST", TOKEN) == 1  # a role 403 is not a token refresh


def test_connection_with_every_role_passes_and_changes_no_listing(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    amazon.quantities["DROPSTREAM-CONNECTION-TEST"] = 4  # even a listing by the probe's SKU
    adapter.test_connection()
    assert amazon.quantities == {"DROPSTREAM-CONNECTION-TEST": 4}
    patch = [r for r in amazon.requests if r["method"] == "PATCH"]
    assert len(patch) == 1 and patch[0]["query"]["mode"] == ["VALIDATION_PREVIEW"]


# --- shipments -----------------------------------------------------------------------------
def test_partial_shipment_of_a_multi_line_order(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    order_id = amazon.add_order(updated_at=T0, lines=[("A", 3, "1.00"), ("B", 1, "2.00")])
    item_a, item_b = item_ids(amazon, order_id)
    first = adapter.push_shipments([shipment(order_id, "1Z1", (item_a, 2))])
    assert first.accepted == (f"{order_id}|1Z1",) and not first.rejected
    assert amazon.orders[order_id]["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    second = adapter.push_shipments([shipment(order_id, "1Z2", (item_a, 1), (item_b, 1))])
    assert second.accepted == (f"{order_id}|1Z2",)
    assert [f["packageItems"] for f in amazon.fulfillments] == [
        [{"orderItemId": item_a, "quantity": 2}],
        [{"orderItemId": item_a, "quantity": 1}, {"orderItemId": item_b, "quantity": 1}],
    ]
    assert [f["packageReferenceId"] for f in amazon.fulfillments] == ["1", "2"]
    assert amazon.orders[order_id]["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert amazon.fulfillments[0]["shipTime"] == "2026-03-01T12:00:00Z"
    assert amazon.fulfillments[0]["shippingService"] == "Ground"


def test_two_packages_for_one_order_one_order_read(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    order_id = amazon.add_order(updated_at=T0, lines=[("A", 1, "1.00"), ("B", 1, "2.00")])
    item_a, item_b = item_ids(amazon, order_id)
    result = adapter.push_shipments(
        [
            shipment(order_id, "PKG1", (item_a, 1)),
            shipment(order_id, "PKG2", (item_b, 1), carrier="Hermes Germany"),
        ]
    )
    assert result.accepted == (f"{order_id}|PKG1", f"{order_id}|PKG2")
    assert [(f["trackingNumber"], f["carrierCode"], f["carrier"]) for f in amazon.fulfillments] == [
        ("PKG1", "UPS", "UPS"),
        ("PKG2", "Other", "Hermes Germany"),
    ]
    assert amazon.calls("GET", f"{ORDERS}/") == 1


def test_same_shipment_twice_creates_one_confirmation(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    order_id = amazon.add_order(updated_at=T0, lines=[("A", 2, "1.00")])
    package = shipment(order_id, "1ZSAME", (item_ids(amazon, order_id)[0], 1))
    first = adapter.push_shipments([package])
    again = adapter.push_shipments([package])
    assert first.accepted == again.accepted == (package.key,)
    assert first.details == again.details == {package.key: "1"}
    assert len(amazon.fulfillments) == 1
    assert amazon.calls("POST", CONFIRM) == 1


def test_lines_by_sku_and_refusals(amazon: AmazonEmulator, adapter: AmazonAdapter) -> None:
    order_id = amazon.add_order(updated_at=T0, lines=[("A", 1, "1.00")])
    result = adapter.push_shipments(
        [
            shipment(order_id, "BYSKU", ("", 1), sku="A"),
            shipment(order_id, "TOOMANY", (item_ids(amazon, order_id)[0], 1)),
            shipment("999-0000000-0000000", "NOORDER", ("1", 1)),
        ]
    )
    assert result.accepted == (f"{order_id}|BYSKU",)
    reasons = dict(result.rejected)
    assert "Quantity exceeds" in reasons[f"{order_id}|TOOMANY"]
    assert "404" in reasons["999-0000000-0000000|NOORDER"]
    assert len(amazon.fulfillments) == 1


# --- inventory -----------------------------------------------------------------------------
def test_a_handful_of_skus_are_patched(amazon: AmazonEmulator, adapter: AmazonAdapter) -> None:
    amazon.add_listing("MUG-RED", 4)
    amazon.add_listing("Größe L/XL", 1)
    result = adapter.push_inventory(
        [InventoryLevel("MUG-RED", 7), InventoryLevel("NOPE", 3), InventoryLevel("Größe L/XL", 0)]
    )
    assert set(result.accepted) == {"MUG-RED", "Größe L/XL"}
    ((sku, reason),) = result.rejected
    assert sku == "NOPE" and "does not exist" in reason
    assert amazon.quantities == {"MUG-RED": 7, "Größe L/XL": 0}
    assert amazon.calls("PATCH", LISTINGS) == 3 and not amazon.feeds


def test_many_skus_go_through_one_feed_with_per_sku_errors(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    for i in range(40):
        amazon.add_listing(f"SKU-{i:03d}", 1)
    levels = [InventoryLevel(f"SKU-{i:03d}", i) for i in range(40)]
    result = adapter.push_inventory([*levels, InventoryLevel("GHOST", 5)])
    assert len(result.accepted) == 40
    ((sku, reason),) = result.rejected
    assert sku == "GHOST" and "4000003" in reason and "does not exist" in reason
    assert amazon.quantities == {f"SKU-{i:03d}": i for i in range(40)}
    assert len(amazon.feeds) == 1 and amazon.calls("PATCH", LISTINGS) == 0
    uploads = [r for r in amazon.requests if r["path"].startswith("/feed-documents/")]
    assert [r["method"] for r in uploads] == ["PUT", "GET"]
    assert all(r["token"] is None for r in uploads)  # no SP-API token sent to the S3 URL
    polls = [
        r["status"] for r in amazon.requests if r["path"].startswith("/feeds/2021-06-30/feeds/")
    ]
    assert polls == [200, 200, 200]  # IN_QUEUE, IN_PROGRESS, DONE


def test_feed_still_running_after_the_bound_is_transient(
    amazon: AmazonEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(6):
        amazon.add_listing(f"S{i}", 1)
    adapter = get_adapter("amazon", CONN_ID, {"feed_poll_attempts": 2}, connection_name="acme")
    with pytest.raises(TransientError, match="still IN_PROGRESS"):
        adapter.push_inventory([InventoryLevel(f"S{i}", 2) for i in range(6)])


@pytest.mark.parametrize(("count", "patches", "feeds"), [(5, 5, 0), (6, 0, 1)])
def test_patch_threshold_boundary(
    amazon: AmazonEmulator, adapter: AmazonAdapter, count: int, patches: int, feeds: int
) -> None:
    for i in range(count):
        amazon.add_listing(f"S{i}", 0)
    result = adapter.push_inventory([InventoryLevel(f"S{i}", 9) for i in range(count)])
    assert len(result.accepted) == count and not result.rejected
    assert amazon.calls("PATCH", LISTINGS) == patches and len(amazon.feeds) == feeds


@pytest.mark.parametrize(("count", "feeds"), [(20, 2), (21, 3)])
def test_feeds_split_at_the_message_cap(
    amazon: AmazonEmulator,
    adapter: AmazonAdapter,
    monkeypatch: pytest.MonkeyPatch,
    count: int,
    feeds: int,
) -> None:
    monkeypatch.setattr(listings, "FEED_CAP", 10)  # stands in for 25,000 messages per feed
    for i in range(count):
        amazon.add_listing(f"S{i:02d}", 0)
    result = adapter.push_inventory([InventoryLevel(f"S{i:02d}", i) for i in range(count)])
    assert len(result.accepted) == count
    assert len(amazon.feeds) == feeds and amazon.calls("POST", "/feeds/2021-06-30/feeds") == feeds
    assert amazon.quantities == {f"S{i:02d}": i for i in range(count)}


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_are_cancelled_orders_in_the_window(
    amazon: AmazonEmulator, adapter: AmazonAdapter
) -> None:
    kept = amazon.add_order(updated_at=T0)
    cancelled = amazon.add_order(updated_at=T0, lines=(("MUG", 2, "12.50"),))
    later = amazon.add_order(updated_at=T0)
    amazon.cancel_order(cancelled, at=T0 + timedelta(minutes=6))
    amazon.cancel_order(later, at=T0 + timedelta(minutes=15))  # the next window's
    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))
    (search,) = [r for r in amazon.requests if r["path"] == ORDERS]  # one search
    assert search["query"]["fulfillmentStatuses"] == ["CANCELLED"]
    assert [(c.order.order_id, c.cancelled_at, c.reason) for c in found] == [
        (cancelled, T0 + timedelta(minutes=6), "cancelled on Amazon")
    ]
    assert [(ln.sku, ln.quantity) for ln in found[0].order.lines] == [("MUG", 2)]
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(hours=1))] == [kept]
    amazon.orders[kept]["fulfillment"]["fulfillmentStatus"] = "SHIPPED"
    with pytest.raises(ValueError, match="SHIPPED: it cannot be cancelled"):
        amazon.cancel_order(kept, at=T0 + timedelta(minutes=20))

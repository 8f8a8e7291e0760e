"""EbayAdapter against the strict local eBay emulator (real HTTP, OAuth refresh tokens)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from adapters import get_adapter
from adapters.base import RetryPolicy
from adapters.ebay import EbayAdapter, unit_price
from adapters.ebay.mapping import cancel_state, to_cancellation
from dropstream.errors import AuthenticationError, ConfigurationError, DataError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from tests.servers.ebay import EbayEmulator, ebay_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.05, jitter=0.01)
ORDERS = "/sell/fulfillment/v1/order"
TOKEN = "/identity/v1/oauth2/token"
BULK = "/sell/inventory/v1/bulk_update_price_quantity"


@pytest.fixture
def ebay(ebay_emulator: EbayEmulator, monkeypatch: pytest.MonkeyPatch) -> EbayEmulator:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", ebay_connection_json(ebay_emulator))
    monkeypatch.setattr(EbayAdapter, "retry_policy", FAST)
    return ebay_emulator


@pytest.fixture
def adapter(ebay: EbayEmulator) -> EbayAdapter:
    built = get_adapter("ebay", CONN_ID, connection_name="acme")
    assert isinstance(built, EbayAdapter)
    yield built
    built.close()


def shipment(order_id: str, tracking: str, *lines: tuple[str, int], sku: str = "") -> Shipment:
    return Shipment(
        order_number=order_id,
        tracking_number=tracking,
        carrier="UPS",
        order_id=order_id,
        shipped_at=T0,
        lines=tuple(ShipmentLine(sku=sku, quantity=n, line_id=lid) for lid, n in lines),
    )


def line_ids(ebay: EbayEmulator, order_id: str) -> list[str]:
    return [item["lineItemId"] for item in ebay.orders[order_id]["lineItems"]]


# --- orders --------------------------------------------------------------------------------
def test_orders_across_three_pages_cost_three_requests(
    ebay: EbayEmulator, adapter: EbayAdapter
) -> None:
    ids = [ebay.add_order(updated_at=T0 + timedelta(seconds=i)) for i in range(450)]
    orders = list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))
    assert [o.order_id for o in orders] == ids
    assert ebay.calls("GET", ORDERS) == 3  # ceil(450 / 200)
    assert ebay.calls("POST", TOKEN) == 1  # the access token is cached


def test_window_is_half_open(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    at_since = ebay.add_order(updated_at=T0)
    inside = ebay.add_order(updated_at=T0 + timedelta(minutes=5))
    at_until = ebay.add_order(updated_at=T0 + timedelta(minutes=15))
    ebay.add_order(updated_at=T0 - timedelta(milliseconds=1))
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=15))]
    assert got == [at_since, inside]
    later = adapter.fetch_orders(T0 + timedelta(minutes=15), T0 + timedelta(minutes=30))
    assert [o.order_id for o in later] == [at_until]


def test_only_paid_open_orders(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    paid = ebay.add_order(updated_at=T0)
    ebay.add_order(updated_at=T0, payment_status="PENDING")
    ebay.add_order(updated_at=T0, payment_status="FULLY_REFUNDED")
    done = ebay.add_order(updated_at=T0)
    ebay.orders[done]["orderFulfillmentStatus"] = "FULFILLED"
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(1))] == [paid]


def test_non_ascii_address_and_exact_money(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    ship_to = {
        "fullName": "Zoë Müller-Łukasiewicz",
        "contactAddress": {
            "addressLine1": "Straße 5",
            "addressLine2": "2. OG",
            "city": "Köln",
            "stateOrProvince": "NW",
            "postalCode": "50667",
            "countryCode": "DE",
        },
        "primaryPhone": {"phoneNumber": "+49 221 000"},
        "email": "zoe@example.de",
    }
    order_id = ebay.add_order(
        updated_at=T0,
        ship_to=ship_to,
        currency="EUR",
        lines=[("MUG-1", 2, "12.10"), ("TEE-9", 3, "0.10")],
        shipping_service="DE_DHLPaket",
    )
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(1))
    assert order.order_id == order.number == order_id
    assert order.ship_to.name == "Zoë Müller-Łukasiewicz" and order.ship_to.city == "Köln"
    assert order.ship_to.address1 == "Straße 5" and order.ship_to.country == "DE"
    assert order.currency == "EUR" and order.ship_method == "DE_DHLPaket"
    assert order.email == "zoe@example.de"
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in order.lines] == [
        ("MUG-1", 2, Decimal("12.10")),
        ("TEE-9", 3, Decimal("0.10")),
    ]
    assert sum(ln.unit_price * ln.quantity for ln in order.lines) == Decimal("24.50")
    assert [ln.line_number for ln in order.lines] == [1, 2]
    assert [ln.line_id for ln in order.lines] == line_ids(ebay, order_id)


def test_page_size_over_the_cap_is_refused(ebay: EbayEmulator) -> None:
    adapter = get_adapter("ebay", CONN_ID, {"page_size": 250}, connection_name="acme")
    with pytest.raises(ConfigurationError, match="400"):
        list(adapter.fetch_orders(T0, T0 + timedelta(1)))
    assert ebay.calls("GET", ORDERS) == 1


# --- throttling, failures, auth ------------------------------------------------------------
def test_429_storm_then_success(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    ebay.add_order(updated_at=T0)
    ebay.fail_next(4, status=429)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in ebay.requests if r["path"] == ORDERS] == [429] * 4 + [200]


def test_server_errors_then_success(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    ebay.add_order(updated_at=T0)
    ebay.fail_next(2, status=503)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert [r["status"] for r in ebay.requests if r["path"] == ORDERS] == [503, 503, 200]


def test_expired_access_token_is_refreshed_once(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    ebay.add_order(updated_at=T0)
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    ebay.expire_tokens()
    assert len(list(adapter.fetch_orders(T0, T0 + timedelta(1)))) == 1
    assert ebay.calls("POST", TOKEN) == 2
    assert [r["status"] for r in ebay.requests] == [200, 200, 401, 200, 200]


def test_token_revoked_again_after_refresh_fails(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    adapter.test_connection()
    ebay.tokens.clear()
    real_token = ebay._token

    def token_then_revoke(*args):  # the fresh token is refused too: give up after one refresh
        reply = real_token(*args)
        ebay.tokens.clear()
        return reply

    ebay._token = token_then_revoke
    with pytest.raises(AuthenticationError, match="401"):
        adapter.test_connection()
    assert ebay.calls("POST", TOKEN) == 2


@pytest.mark.parametrize(
    "bad", [{"password": "PRD-wrong-secret"}, {"extra": {"refresh_token": "v^1.1#revoked"}}]
)
def test_wrong_credentials_fail_fast_naming_the_connection(
    ebay: EbayEmulator, monkeypatch: pytest.MonkeyPatch, bad: dict
) -> None:
    conn = json.loads(ebay_connection_json(ebay)) | bad
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    adapter = get_adapter("ebay", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "'acme'" in message and CONN_ID in message and "refresh_token" in message
    assert "PRD-wrong-secret" not in message and "#revoked" not in message
    assert [r["path"] for r in ebay.requests] == [TOKEN]  # no retry storm


def test_connection_ok(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    adapter.test_connection()
    assert ebay.calls("POST", TOKEN) == 1


SCOPE = "https://api.ebay.com/oauth/api_scope"


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        (
            {SCOPE, SCOPE + "/sell.fulfillment.readonly", SCOPE + "/sell.inventory.readonly"},
            f"{SCOPE}/sell.fulfillment, {SCOPE}/sell.inventory",
        ),
        (
            {SCOPE, SCOPE + "/sell.fulfillment", SCOPE + "/sell.inventory.readonly"},
            f"{SCOPE}/sell.inventory",
        ),
    ],
)
def test_read_only_consent_fails_the_check_naming_the_scopes(
    ebay: EbayEmulator, adapter: EbayAdapter, granted: set[str], missing: str
) -> None:
    ebay.granted_scopes = granted
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert f"has not granted the app OAuth scopes: {missing} (" in message, message
    assert "consent again" in message and CONN_ID in message
    assert not any(r["path"].startswith("/sell/") for r in ebay.requests)  # tokens only


def test_read_only_token_is_refused_writes_by_the_emulator(ebay: EbayEmulator) -> None:
    """The emulator's side of it: a token minted with .readonly scopes reads but cannot write."""
    basic = requests.auth.HTTPBasicAuth(ebay.client_id, ebay.client_secret)
    token = requests.post(
        ebay.url + TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": ebay.refresh_token,
            "scope": f"{SCOPE}/sell.inventory.readonly",
        },
        auth=basic,
        timeout=5,
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    url = ebay.url + "/sell/inventory/v1/"
    assert requests.get(url + "inventory_item", headers=bearer, timeout=5).status_code == 200
    refused = requests.post(
        url + "bulk_update_price_quantity", json={"requests": []}, headers=bearer, timeout=5
    )
    assert refused.status_code == 403 and refused.json()["errors"][0]["errorId"] == 1100


def test_missing_refresh_token_is_a_configuration_error(
    ebay: EbayEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(ebay_connection_json(ebay)) | {"extra": {}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    with pytest.raises(ConfigurationError, match="refresh_token"):
        get_adapter("ebay", CONN_ID, connection_name="acme").test_connection()
    assert ebay.requests == []


# --- shipments -----------------------------------------------------------------------------
def test_partial_shipment_of_a_multi_line_order(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    order_id = ebay.add_order(updated_at=T0, lines=[("A", 3, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = line_ids(ebay, order_id)
    first = adapter.push_shipments([shipment(order_id, "1Z1", (line_a, 2))])
    assert first.accepted == (f"{order_id}|1Z1",) and not first.rejected
    assert ebay.orders[order_id]["orderFulfillmentStatus"] == "IN_PROGRESS"
    second = adapter.push_shipments([shipment(order_id, "1Z2", (line_a, 1), (line_b, 1))])
    assert second.accepted == (f"{order_id}|1Z2",)
    assert [f["lineItems"] for f in ebay.fulfillments] == [
        [{"lineItemId": line_a, "quantity": 2}],
        [{"lineItemId": line_a, "quantity": 1}, {"lineItemId": line_b, "quantity": 1}],
    ]
    assert ebay.orders[order_id]["orderFulfillmentStatus"] == "FULFILLED"
    assert second.details[f"{order_id}|1Z2"] == ebay.fulfillments[1]["fulfillmentId"]
    assert ebay.fulfillments[0]["shippedDate"] == "2026-03-01T12:00:00.000Z"


def test_two_packages_for_one_order(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    order_id = ebay.add_order(updated_at=T0, lines=[("A", 1, "1.00"), ("B", 1, "2.00")])
    line_a, line_b = line_ids(ebay, order_id)
    result = adapter.push_shipments(
        [shipment(order_id, "PKG1", (line_a, 1)), shipment(order_id, "PKG2", (line_b, 1))]
    )
    assert result.accepted == (f"{order_id}|PKG1", f"{order_id}|PKG2")
    assert [(f["shipmentTrackingNumber"], f["shippingCarrierCode"]) for f in ebay.fulfillments] == [
        ("PKG1", "UPS"),
        ("PKG2", "UPS"),
    ]


def test_same_shipment_twice_creates_one_fulfillment(
    ebay: EbayEmulator, adapter: EbayAdapter
) -> None:
    order_id = ebay.add_order(updated_at=T0, lines=[("A", 2, "1.00")])
    package = shipment(order_id, "1ZSAME", (line_ids(ebay, order_id)[0], 1))
    first = adapter.push_shipments([package])
    again = adapter.push_shipments([package])
    assert first.accepted == again.accepted == (package.key,)
    assert first.details == again.details
    assert len(ebay.fulfillments) == 1
    assert ebay.calls("POST", f"{ORDERS}/") == 1


def test_lines_known_only_by_sku_and_refusals(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    order_id = ebay.add_order(updated_at=T0, lines=[("A", 1, "1.00")])
    result = adapter.push_shipments(
        [
            shipment(order_id, "BYSKU", ("", 1), sku="A"),
            shipment(order_id, "TOOMANY", (line_ids(ebay, order_id)[0], 1)),
            shipment("99-99999-99999", "NOORDER", ("1", 1)),
        ]
    )
    assert result.accepted == (f"{order_id}|BYSKU",)
    reasons = dict(result.rejected)
    assert "Quantity exceeds" in reasons[f"{order_id}|TOOMANY"]
    assert "404" in reasons["99-99999-99999|NOORDER"]
    assert len(ebay.fulfillments) == 1


# --- inventory -----------------------------------------------------------------------------
@pytest.mark.parametrize(("count", "calls"), [(25, 1), (50, 2), (51, 3)])
def test_inventory_batches_at_the_cap(
    ebay: EbayEmulator, adapter: EbayAdapter, count: int, calls: int
) -> None:
    for i in range(count):
        ebay.add_listing(f"SKU-{i:03d}", 1)
    result = adapter.push_inventory([InventoryLevel(f"SKU-{i:03d}", i) for i in range(count)])
    assert len(result.accepted) == count and not result.rejected
    assert ebay.calls("POST", BULK) == calls
    assert ebay.quantities == {f"SKU-{i:03d}": i for i in range(count)}


def test_unknown_sku_is_rejected_the_rest_applied(ebay: EbayEmulator, adapter: EbayAdapter) -> None:
    ebay.add_listing("MUG-RED", 4)
    ebay.add_listing("Größe L/XL", 1)
    levels = [
        InventoryLevel("MUG-RED", 7),
        InventoryLevel("NOPE", 3),
        InventoryLevel("Größe L/XL", 0),
    ]
    result = adapter.push_inventory(levels)
    assert set(result.accepted) == {"MUG-RED", "Größe L/XL"}
    ((sku, reason),) = result.rejected
    assert sku == "NOPE" and "not available" in reason
    assert ebay.quantities == {"MUG-RED": 7, "Größe L/XL": 0}
    assert ebay.calls("POST", BULK) == 1


def test_unit_price_from_line_cost() -> None:
    assert unit_price(Decimal("24.20"), 2) == Decimal("12.10")
    assert unit_price(Decimal("7"), 1) == Decimal("7")
    assert unit_price(Decimal("10.00"), 3) == Decimal("3.333333")  # not a whole cent: 6 places


def _ebay_call(emulator: EbayEmulator, method: str, path: str, **kwargs):
    emulator.tokens.add("probe-token")
    headers = {"Authorization": "Bearer probe-token", "Content-Type": "application/json"}
    return requests.request(method, emulator.url + path, headers=headers, timeout=5, **kwargs)


def test_the_emulator_rejects_an_unknown_query_parameter(ebay_emulator: EbayEmulator):
    reply = _ebay_call(
        ebay_emulator, "GET", "/sell/fulfillment/v1/order", params={"limit": 1, "sort": "asc"}
    )
    assert reply.status_code == 400
    assert reply.json()["errors"][0]["errorId"] == 2004
    assert "'sort'" in reply.json()["errors"][0]["message"]
    fine = _ebay_call(ebay_emulator, "GET", "/sell/fulfillment/v1/order", params={"limit": 1})
    assert fine.status_code == 200


def test_the_emulator_rejects_an_unknown_body_field(ebay_emulator: EbayEmulator):
    ebay_emulator.add_listing("SKU-1", 0)
    entry = {"sku": "SKU-1", "shipToLocationAvailability": {"quantity": 3}}
    reply = _ebay_call(
        ebay_emulator,
        "POST",
        "/sell/inventory/v1/bulk_update_price_quantity",
        json={"requests": [entry | {"quantity": 3}]},
    )
    assert reply.status_code == 400 and "'quantity'" in reply.json()["errors"][0]["message"]
    assert ebay_emulator.quantities["SKU-1"] == 0
    order_id = ebay_emulator.add_order(updated_at=datetime(2026, 3, 1, tzinfo=UTC))
    line_id = ebay_emulator.orders[order_id]["lineItems"][0]["lineItemId"]
    body = {
        "lineItems": [{"lineItemId": line_id, "quantity": 1}],
        "shippingCarrierCode": "UPS",
        "trackingNumber": "1Z1",
        "carrier": "UPS",
    }
    path = f"/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment"
    reply = _ebay_call(ebay_emulator, "POST", path, json=body)
    assert reply.status_code == 400 and "'carrier'" in reply.json()["errors"][0]["message"]
    assert ebay_emulator.fulfillments == []


def test_a_spent_daily_quota_is_a_429(ebay_emulator: EbayEmulator):
    ebay_emulator.quotas["order"].set(available=0)
    reply = _ebay_call(ebay_emulator, "GET", "/sell/fulfillment/v1/order", params={"limit": 1})
    assert reply.status_code == 429 and reply.json()["errors"][0]["errorId"] == 2001


def test_digital_gift_card_orders_need_no_shipping(ebay: EbayEmulator, adapter) -> None:
    ebay.add_order(updated_at=T0, lines=(("GIFT-25", 1, "25.00"),), digital=True)
    ebay.add_order(updated_at=T0 + timedelta(minutes=1))
    gift, physical = adapter.fetch_orders(T0, T0 + timedelta(minutes=15))
    assert [ln.requires_shipping for ln in gift.lines] == [False]
    assert [ln.requires_shipping for ln in physical.lines] == [True]


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_are_cancel_state_canceled_orders_in_the_window(
    ebay: EbayEmulator, adapter: EbayAdapter
) -> None:
    kept = ebay.add_order(updated_at=T0)
    cancelled = ebay.add_order(updated_at=T0, lines=(("MUG", 2, "12.50"),))
    earlier = ebay.add_order(updated_at=T0)
    ebay.cancel_order(cancelled, at=T0 + timedelta(minutes=9))
    ebay.cancel_order(earlier, at=T0 - timedelta(minutes=1))
    before = ebay.calls("GET", ORDERS)
    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))
    assert ebay.calls("GET", ORDERS) - before == 1
    assert [(c.order.order_id, c.cancelled_at, c.reason) for c in found] == [
        (cancelled, T0 + timedelta(minutes=9), "cancelled on eBay")
    ]
    assert [(ln.sku, ln.quantity) for ln in found[0].order.lines] == [("MUG", 2)]
    assert ebay.orders[cancelled]["orderPaymentStatus"] == "FULLY_REFUNDED"
    # still NOT_STARTED at eBay, but never fetched for sending
    assert ebay.orders[cancelled]["orderFulfillmentStatus"] == "NOT_STARTED"
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(hours=1))] == [kept]
    with pytest.raises(ValueError, match="cancelled already"):
        ebay.cancel_order(cancelled, at=T0 + timedelta(minutes=20))
    ebay.orders[kept]["orderFulfillmentStatus"] = "FULFILLED"
    with pytest.raises(ValueError, match="FULFILLED: it cannot be cancelled"):
        ebay.cancel_order(kept, at=T0 + timedelta(minutes=20))


def test_cancellation_mapping_reasons_time_and_a_bad_date(ebay: EbayEmulator) -> None:
    order_id = ebay.add_order(updated_at=T0)
    ebay.cancel_order(order_id, at=T0 + timedelta(minutes=3))
    raw = json.loads(json.dumps(ebay.orders[order_id], default=str))
    assert cancel_state(raw) == "CANCELED" and cancel_state({}) == "NONE_REQUESTED"
    raw["cancelStatus"]["cancelRequests"] = [
        {"cancelReason": "BUYER_ASKED_CANCEL"},
        {"cancelReason": None},
    ]
    mapped = to_cancellation(raw)
    assert (mapped.order.order_id, mapped.cancelled_at, mapped.reason) == (
        order_id,
        T0 + timedelta(minutes=3),
        "cancelled on eBay (BUYER_ASKED_CANCEL)",
    )
    del raw["cancelStatus"]["cancelledDate"]  # absent: the order's last change
    assert to_cancellation(raw).cancelled_at == mapped.order.updated_at
    raw["cancelStatus"]["cancelledDate"] = "yesterday"
    with pytest.raises(DataError, match=rf"eBay order {order_id}: cancelledDate 'yesterday'"):
        to_cancellation(raw)

"""Walmart Marketplace adapter against its strict emulator (real HTTP), plus the pure mapping."""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters import get_adapter
from adapters.walmart import mapping
from adapters.walmart.adapter import WalmartAdapter
from dropstream.errors import AuthenticationError, DataError, UpstreamRejectedError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from tests.adapters.harness import FAST
from tests.servers.walmart import WalmartEmulator, walmart_connection_json

CONN = "dropstream_walmart_test_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def adapter(walmart_emulator: WalmartEmulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", walmart_connection_json(walmart_emulator))
    monkeypatch.setattr(WalmartAdapter, "retry_policy", FAST)
    monkeypatch.setattr(WalmartAdapter, "feed_poll_seconds", 0.0)
    built = get_adapter("walmart", CONN, {"page_size": 2}, connection_name="acme")
    yield built
    built.close()


def raw_order(statuses: list[tuple[str, int]], status_date: int = 1_772_366_400_000) -> dict:
    return {
        "purchaseOrderId": "PO-1",
        "orderDate": 1_772_366_400_000,
        "customerEmailId": "x@relay.walmart.com",
        "shippingInfo": {"methodCode": "Value", "phone": "1", "postalAddress": {
            "name": "A B", "address1": "1 St", "city": "C", "state": "NY",
            "postalCode": "13164", "country": "USA"}},
        "orderLines": {"orderLine": [{
            "lineNumber": "1", "item": {"sku": "MUG"}, "statusDate": status_date,
            "charges": {"charge": [{
                "chargeName": "ItemPrice",
                "chargeAmount": {"currency": "USD", "amount": Decimal("12.10")},
            }]},
            "orderLineStatuses": {"orderLineStatus": [
                {"status": s, "statusQuantity": {"amount": str(q)}} for s, q in statuses]},
        }]},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("statuses", "open_units"),
    [
        ([("Created", 2)], 2),
        ([("Acknowledged", 1), ("Shipped", 1)], 1),
        ([("Shipped", 2)], 0),
        ([("Cancelled", 1), ("Acknowledged", 1)], 1),
    ],
)
def test_open_units_per_line_status(statuses: list[tuple[str, int]], open_units: int) -> None:
    order = raw_order(statuses)
    assert sum(units for *_, units in mapping.open_lines(order)) == open_units
    if open_units:
        mapped = mapping.to_order(order)
        assert mapped.lines[0].quantity == open_units
        assert mapped.lines[0].unit_price == Decimal("12.10")
        assert (mapped.ship_to.country, mapped.ship_method) == ("US", "Value")


def test_modified_at_is_the_latest_status_date_and_bad_orders_name_themselves() -> None:
    later = 1_772_366_400_000 + 90_000
    assert mapping.modified_at(raw_order([("Created", 1)], later)) == T0 + timedelta(seconds=90)
    broken = raw_order([("Created", 1)])
    del broken["orderDate"]
    with pytest.raises(DataError, match="PO-1"):
        mapping.to_order(broken)


def test_shipping_body_maps_carrier_and_method() -> None:
    shipment = Shipment("PO-1", "1Z9", "fedex", (ShipmentLine("MUG", 2),), service="express",
                        shipped_at=T0)  # fmt: skip
    body = mapping.shipping_body(shipment, {"1": 2})
    status = body["orderShipment"]["orderLines"]["orderLine"][0]["orderLineStatuses"][
        "orderLineStatus"
    ][0]
    assert status["trackingInfo"]["carrierName"] == {"carrier": "FedEx"}
    assert status["trackingInfo"]["methodCode"] == "Express"
    assert status["statusQuantity"]["amount"] == "2"
    other = mapping.shipping_body(Shipment("PO-1", "X", "Acme Post", ()), {"1": 1})
    line = other["orderShipment"]["orderLines"]["orderLine"][0]
    tracking = line["orderLineStatuses"]["orderLineStatus"][0]["trackingInfo"]
    assert tracking["carrierName"] == {"otherCarrier": "Acme Post"}


def test_cursor_paging_with_acknowledgement_skips_nothing(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    ids = [walmart_emulator.add_order(updated_at=T0 + timedelta(seconds=i)) for i in range(5)]
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(hours=1))]
    assert sorted(got) == sorted(ids)
    paths = [r for r in walmart_emulator.requests if r["path"] == "/v3/orders"]
    assert len(paths) == 3  # 2 + 2 + 1, the last page without nextCursor
    assert "soIndex=2" in paths[1]["query"] and "soIndex=4" in paths[2]["query"]
    acks = [r for r in walmart_emulator.requests if r["path"].endswith("/acknowledge")]
    assert len(acks) == 5
    # Acknowledged now: the next read does not acknowledge again.
    assert len(list(adapter.fetch_orders(T0, datetime.now(UTC) + timedelta(hours=1)))) == 5
    assert len([r for r in walmart_emulator.requests if r["path"].endswith("/acknowledge")]) == 5


def test_an_empty_window_is_one_request(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    assert list(adapter.fetch_orders(T0, T0 + timedelta(minutes=15))) == []
    assert [r["path"] for r in walmart_emulator.requests] == ["/v3/token", "/v3/orders"]


def test_expired_token_is_refreshed_once(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    walmart_emulator.add_order(updated_at=T0)
    until = datetime.now(UTC) + timedelta(hours=1)
    assert len(list(adapter.fetch_orders(T0, until))) == 1
    walmart_emulator.expire_tokens()
    assert len(list(adapter.fetch_orders(T0, until))) == 1
    assert sum(r["path"] == "/v3/token" for r in walmart_emulator.requests) == 2
    assert [r["status"] for r in walmart_emulator.requests].count(401) == 1


def test_view_only_key_fails_the_store_test_naming_the_access(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    adapter.test_connection()  # full access passes
    walmart_emulator.scopes["inventory"] = "view_only"
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "inventory: full_access" in message and CONN in message and "'acme'" in message
    assert "orders: full_access" not in message.split("(it has")[0]


def test_refused_sku_is_rejected_with_walmart_error_and_the_rest_goes_on(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    walmart_emulator.add_item("A", 1)
    result = adapter.push_inventory([InventoryLevel("A", 5), InventoryLevel("NOPE", 1)])
    assert result.accepted == ("A",)
    ((sku, why),) = result.rejected
    assert sku == "NOPE" and "INVALID_REQUEST_CONTENT.GMP_INVENTORY_API" in why
    assert walmart_emulator.quantities["A"] == 5


def test_feed_rejects_unknown_skus_per_item(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    skus = [f"S{i}" for i in range(12)]
    for sku in skus[:-1]:
        walmart_emulator.add_item(sku, 0)
    result = adapter.push_inventory([InventoryLevel(sku, 3) for sku in skus])
    assert len(result.accepted) == 11
    assert result.rejected[0][0] == "S11" and "invalid" in result.rejected[0][1]
    assert sum(r["path"] == "/v3/feeds" for r in walmart_emulator.requests) == 1


def test_shipping_a_line_twice_over_is_refused(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    po = walmart_emulator.add_order(updated_at=T0, lines=[("MUG", 1, "5.00")])
    line = ShipmentLine("MUG", 1, line_id="1")
    first = adapter.push_shipments([Shipment(po, "T1", "UPS", (line,), order_id=po)])
    second = adapter.push_shipments([Shipment(po, "T2", "UPS", (line,), order_id=po)])
    assert first.accepted and not second.accepted
    assert "no line for 'MUG'" in second.rejected[0][1]  # fully shipped: no open line


def test_packages_of_one_order_read_it_once_and_ship_against_walmart_answers(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    # 3 units, Created: packages of 1 and 2 ship (the second against the order Walmart answered
    # the first with), a third finds nothing open and is refused; one read, one acknowledgement.
    po = walmart_emulator.add_order(updated_at=T0, lines=[("MUG", 3, "5.00")])
    packages = [
        Shipment(po, tracking, "UPS", (ShipmentLine("MUG", units, line_id="1"),), order_id=po)
        for tracking, units in (("T1", 1), ("T2", 2), ("T3", 1))
    ]
    result = adapter.push_shipments(packages)
    assert result.accepted == (f"{po}|T1", f"{po}|T2")
    assert result.rejected[0][0] == f"{po}|T3"
    assert "no line for 'MUG'" in result.rejected[0][1]
    calls = [(r["method"], r["path"]) for r in walmart_emulator.requests]
    assert calls.count(("GET", f"/v3/orders/{po}")) == 1
    assert calls.count(("POST", f"/v3/orders/{po}/acknowledge")) == 1
    assert calls.count(("POST", f"/v3/orders/{po}/shipping")) == 2
    shipped = [s for s in mapping.statuses(walmart_emulator.orders[po]) if s[1] == "Shipped"]
    assert sorted(t for *_, t in shipped) == ["T1", "T2"]


def test_rate_limit_is_respected_without_a_throttled_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 3 acknowledgements in the bucket, refilled at 20/s: 8 orders must wait, not be refused.
    with WalmartEmulator(limits={"acknowledge": (3, 20.0)}) as emulator:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", walmart_connection_json(emulator))
        for i in range(8):
            emulator.add_order(updated_at=T0 + timedelta(seconds=i))
        adapter = get_adapter("walmart", CONN, connection_name="acme")
        assert len(list(adapter.fetch_orders(T0, T0 + timedelta(hours=1)))) == 8
        adapter.close()
        assert emulator.throttled == 0
        assert 429 not in [r["status"] for r in emulator.requests]
        emulator.check_no_crash()


def test_unknown_query_parameter_is_refused_in_walmart_shape(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    adapter.test_connection()
    response = adapter.http.session.get(
        walmart_emulator.url + "/v3/orders", params={"color": "red"},
        headers={"WM_SVC.NAME": "x", "WM_QOS.CORRELATION_ID": "1"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "color"


def test_an_order_created_weeks_before_its_window_is_found(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    """Walmart's createdStartDate defaults to 7 days ago: the adapter widens it."""
    since = datetime.now(UTC) - timedelta(minutes=15)
    po = walmart_emulator.add_order(
        updated_at=since + timedelta(minutes=1), created_at=since - timedelta(days=20)
    )
    assert [o.order_id for o in adapter.fetch_orders(since, since + timedelta(minutes=15))] == [po]


def test_emulator_refuses_an_unknown_shipping_field_in_walmart_shape(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    po = walmart_emulator.add_order(updated_at=T0)
    list(adapter.fetch_orders(T0, T0 + timedelta(minutes=1)))  # acknowledges it
    body = mapping.shipping_body(
        Shipment(po, "T9", "UPS", (ShipmentLine("SKU-1", 1),), shipped_at=T0), {"1": 1}
    )
    body["orderShipment"]["orderLines"]["orderLine"][0]["giftWrap"] = True
    with pytest.raises(UpstreamRejectedError, match="giftWrap"):
        adapter.http.request("POST", f"v3/orders/{po}/shipping", json=body)
    assert walmart_emulator.shipments == []


def test_acknowledgement_refused_on_fetch_is_logged_and_the_order_still_sent(
    walmart_emulator: WalmartEmulator,
    adapter: WalmartAdapter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The order is cancelled between the list and the acknowledgement: one order's refusal
    does not stop the run; the log names it and what to do."""
    po = walmart_emulator.add_order(updated_at=T0)
    listed = walmart_emulator._list

    def list_then_cancel(query: dict[str, str]) -> Any:
        reply = copy.deepcopy(listed(query))
        for line in walmart_emulator.orders[po]["orderLines"]["orderLine"]:
            for entry in line["orderLineStatuses"]["orderLineStatus"]:
                entry["status"] = "Cancelled"
        return reply

    monkeypatch.setattr(walmart_emulator, "_list", list_then_cancel)
    with caplog.at_level(logging.WARNING):
        got = [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(minutes=1))]
    assert got == [po]
    assert f"acknowledge order {po} in Seller Center" in caplog.text
    assert "order is cancelled" in caplog.text


def test_a_view_only_client_fails_the_store_test_while_the_sellers_key_passes(
    walmart_emulator: WalmartEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    walmart_emulator.add_client(
        "provider-key", "provider-secret", orders="view_only", inventory="view_only"
    )
    view_only = {"login": "provider-key", "password": "provider-secret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", walmart_connection_json(walmart_emulator))
    seller = get_adapter("walmart", CONN, connection_name="acme")
    seller.test_connection()
    seller.close()
    conn = json.loads(walmart_connection_json(walmart_emulator)) | view_only
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(conn))
    provider = get_adapter("walmart", CONN, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        provider.test_connection()
    provider.close()
    message = str(caught.value)
    assert "lacks orders: full_access, inventory: full_access, feeds: view_only" in message
    # and its token cannot write: Walmart refuses the acknowledgement, named in Walmart's words
    walmart_emulator.add_order(updated_at=T0)
    provider = get_adapter("walmart", CONN, connection_name="acme")
    with pytest.raises(AuthenticationError, match="403: FORBIDDEN.GMP_GATEWAY_API"):
        list(provider.fetch_orders(T0, T0 + timedelta(minutes=1)))
    provider.close()


def test_a_token_about_to_expire_is_renewed_before_walmart_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with WalmartEmulator(token_ttl=2) as emulator:  # renewed at half its life when that short
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", walmart_connection_json(emulator))
        adapter = get_adapter("walmart", CONN, connection_name="acme")
        adapter.test_connection()
        time.sleep(1.2)
        adapter.test_connection()
        adapter.close()
        assert [r["path"] for r in emulator.requests].count("/v3/token") == 2
        assert 401 not in [r["status"] for r in emulator.requests]
        emulator.check_no_crash()


def test_cancelled_orders_are_reported_with_walmart_reasons_in_one_listing(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    emulator = walmart_emulator
    acked = emulator.add_order(updated_at=T0, lines=[("MUG", 2, "9.50"), ("TEE", 1, "5.00")])
    created = emulator.add_order(updated_at=T0)
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + timedelta(seconds=1))] == [
        acked,
        created,
    ]  # both acknowledged now
    emulator.cancel_order(acked, at=T0 + timedelta(minutes=2), reason="SELLER_CANCEL_OUT_OF_STOCK")
    emulator.cancel_order(created, at=T0 + timedelta(minutes=3))
    before = len(emulator.requests)
    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))
    assert [(c.order_id, c.cancelled_at, c.reason) for c in found] == [
        (acked, T0 + timedelta(minutes=2), "cancelled on Walmart (seller cancel out of stock)"),
        (created, T0 + timedelta(minutes=3),
         "cancelled on Walmart (customer requested seller to cancel)"),
    ]  # fmt: skip
    assert [(ln.sku, ln.quantity) for ln in found[0].order.lines] == [("MUG", 2), ("TEE", 1)]
    (listing,) = emulator.requests[before:]
    assert listing["path"] == "/v3/orders" and "status=Cancelled" in listing["query"]
    assert list(adapter.fetch_orders(T0, T0 + timedelta(minutes=15))) == []  # none open
    assert (
        list(adapter.fetch_cancellations(T0 + timedelta(minutes=15), T0 + timedelta(hours=1))) == []
    )


def test_a_line_cancelled_beside_an_open_one_changes_the_order_not_cancels_it(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter
) -> None:
    po = walmart_emulator.add_order(updated_at=T0, lines=[("MUG", 2, "9.50"), ("TEE", 1, "5.00")])
    walmart_emulator.cancel_order(po, at=T0 + timedelta(minutes=1), lines=["2"])
    window = (T0, T0 + timedelta(minutes=15))
    assert list(adapter.fetch_cancellations(*window)) == []
    (order,) = adapter.fetch_orders(*window)
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("MUG", 2)]
    with pytest.raises(ValueError, match="nothing to cancel"):
        walmart_emulator.cancel_order(po, at=T0 + timedelta(minutes=2), lines=["2"])


@pytest.mark.parametrize("option", ["S2H", "S2S"])
def test_every_walmart_line_is_a_line_to_ship(
    walmart_emulator: WalmartEmulator, adapter: WalmartAdapter, option: str
) -> None:
    """Walmart order lines carry no "needs no shipping" mark (docs/platforms.md): ship to home
    and ship to store lines alike are shipped by the seller."""
    walmart_emulator.add_order(updated_at=T0, fulfillment_option=option)
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(minutes=1))
    assert [(ln.sku, ln.requires_shipping) for ln in order.lines] == [("SKU-1", True)]

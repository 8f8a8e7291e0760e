"""MagentoAdapter: its pure mappings, and against the strict local Magento emulator (real HTTP)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from adapters import get_adapter
from adapters.base import RetryPolicy
from adapters.magento import MagentoAdapter
from adapters.magento.client import render
from adapters.magento.mapping import is_open, ship_body, source_items, to_cancellation, to_order
from adapters.pacing import FixedRatePacer
from dropstream.errors import AuthenticationError, ConfigurationError, DataError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from dropstream.sandbox.platforms.magento import ORDERS_READ, SHIP, SHIPMENTS_READ, SOURCE_ITEMS
from dropstream.sandbox.strict import EmulatorCrashed
from tests.servers._emulator import running
from tests.servers.magento import MagentoEmulator, magento_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=5.0, jitter=0.01)
ORDERS, SHIPS, SOURCE = "/orders", r"/order/\d+/ship", "/inventory/source-items"
HOUR = timedelta(hours=1)


def connect(monkeypatch: pytest.MonkeyPatch, emulator: MagentoEmulator, **extra: Any):
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", magento_connection_json(emulator, **extra)
    )
    monkeypatch.setattr(MagentoAdapter, "retry_policy", FAST)
    built = get_adapter("magento", CONN_ID, connection_name="acme")
    assert isinstance(built, MagentoAdapter)
    return built


@pytest.fixture
def store(magento_emulator: MagentoEmulator) -> MagentoEmulator:
    return magento_emulator


@pytest.fixture
def adapter(store: MagentoEmulator, monkeypatch: pytest.MonkeyPatch):
    built = connect(monkeypatch, store)
    yield built
    built.close()


def pages_asked(store: MagentoEmulator) -> list[str]:
    return [
        r["query"]["searchCriteria[currentPage]"][0]
        for r in store.requests
        if r["path"] == "/rest/V1/orders"
    ]


def package(store: MagentoEmulator, order_id: int, tracking: str, *lines: tuple[int, int]):
    """A shipment of (line index, quantity) of the order's own (parent) items."""
    own = [i for i in store.orders[order_id]["items"] if not i.get("parent_item_id")]
    return Shipment(
        order_number=store.orders[order_id]["increment_id"],
        tracking_number=tracking,
        carrier="UPS",
        service="Ground",
        order_id=str(order_id),
        lines=tuple(
            ShipmentLine(sku=own[i]["sku"], quantity=n, line_id=str(own[i]["item_id"]))
            for i, n in lines
        ),
    )


# --- pure mappings -------------------------------------------------------------------------
RAW = {
    "entity_id": 7,
    "increment_id": "000000007",
    "state": "processing",
    "status": "processing",
    "created_at": "2026-03-01 11:00:00",
    "updated_at": "2026-03-01 12:00:00",
    "customer_email": "ada@example.com",
    "order_currency_code": "EUR",
    "total_due": 0,
    "shipping_description": "Flat Rate - Fixed",
    "billing_address": {"firstname": "Bill", "lastname": "Payer", "street": ["9 Pay Rd"]},
    "items": [
        {
            "item_id": 11,
            "sku": "TEE-M",
            "qty_ordered": Decimal("2.0000"),
            "price": Decimal("12.10"),
        },
        {"item_id": 12, "sku": "TEE-M", "qty_ordered": 2, "price": 0, "parent_item_id": 11},
        {"item_id": 13, "sku": "MUG", "qty_ordered": 1, "price": Decimal("0.10")},
    ],
    "extension_attributes": {
        "shipping_assignments": [
            {
                "shipping": {
                    "address": {
                        "firstname": "Zoë",
                        "lastname": "Müller",
                        "company": "Acme",
                        "street": ["Straße 5", "2. OG", "Hinterhaus"],
                        "city": "Köln",
                        "region": "Nordrhein-Westfalen",
                        "region_code": None,
                        "postcode": "50667",
                        "country_id": "DE",
                        "telephone": "+49 221 000",
                    }
                }
            }
        ]
    },
}


def test_to_order_maps_a_magento_order() -> None:
    order = to_order(RAW)
    assert (order.order_id, order.number, order.channel) == ("7", "000000007", "magento")
    assert order.updated_at == T0 and order.created_at == T0 - HOUR
    # The configurable's child line (parent_item_id) ships with its parent: not a line.
    assert [(ln.line_id, ln.sku, ln.quantity, ln.unit_price) for ln in order.lines] == [
        ("11", "TEE-M", 2, Decimal("12.10")),
        ("13", "MUG", 1, Decimal("0.10")),
    ]
    ship = order.ship_to
    assert (ship.name, ship.company, ship.address1, ship.address2) == (
        "Zoë Müller",
        "Acme",
        "Straße 5",
        "2. OG, Hinterhaus",
    )
    assert (ship.city, ship.state, ship.postal_code, ship.country, ship.phone) == (
        "Köln",
        "Nordrhein-Westfalen",  # no region_code: the region's name
        "50667",
        "DE",
        "+49 221 000",
    )
    assert order.bill_to.name == "Bill Payer" and order.email == "ada@example.com"
    assert (order.currency, order.ship_method) == ("EUR", "Flat Rate - Fixed")
    assert (order.financial_status, order.fulfillment_status) == ("paid", "processing")


def test_to_order_ships_to_billing_without_a_shipping_assignment() -> None:
    raw = {**RAW, "extension_attributes": {}}
    assert to_order(raw).ship_to.address1 == "9 Pay Rd"


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in RAW.items() if k != "entity_id"},
        {**RAW, "updated_at": "yesterday"},
        {**RAW, "items": [{"sku": "NO-ID", "qty_ordered": 1}]},
        {**RAW, "items": [{"item_id": 1, "qty_ordered": "many"}]},
        {**RAW, "items": [{"item_id": 1, "qty_ordered": "1.5000"}]},
    ],
    ids=["no id", "bad time", "item without id", "bad quantity", "fractional quantity"],
)
def test_malformed_order_is_a_data_error_naming_it(broken: dict[str, Any]) -> None:
    with pytest.raises(DataError, match="Magento order"):
        to_order(broken)


@pytest.mark.parametrize(
    ("total_due", "shipped", "expected"),
    [(0, 0, True), ("0.0000", 0, True), ("5.00", 0, False), (0, 1, False)],
    ids=["paid", "paid (text)", "amount due", "partly shipped"],
)
def test_open_means_paid_and_nothing_shipped(total_due: Any, shipped: int, expected: bool) -> None:
    items = [{"item_id": 1, "qty_ordered": 1, "qty_shipped": shipped}]
    assert is_open({**RAW, "total_due": total_due, "items": items}) is expected


@pytest.mark.parametrize(
    ("carrier", "service", "code", "title"),
    [
        ("UPS", "Ground", "ups", "UPS Ground"),
        ("FedEx", "", "fedex", "FedEx"),
        (" usps ", "Priority", "usps", " usps  Priority"),
        ("DHL", "Express", "dhl", "DHL Express"),
        ("Royal Mail", "Tracked 48", "custom", "Royal Mail Tracked 48"),
        ("", "", "custom", "Carrier"),
    ],
)
def test_ship_body_maps_carriers(carrier: str, service: str, code: str, title: str) -> None:
    shipment = Shipment("1", "TRK1", carrier, (), service=service, order_id="7")
    body = ship_body(shipment, {"11": 2, "13": 1})
    assert body == {
        "items": [{"order_item_id": 11, "qty": 2}, {"order_item_id": 13, "qty": 1}],
        "tracks": [{"track_number": "TRK1", "title": title, "carrier_code": code}],
        "notify": True,
    }


def test_source_items_payload_marks_stock_status() -> None:
    body = source_items(["A", "B"], {"A": 5, "B": 0, "C": 9}, "eu-1")
    assert body == {
        "sourceItems": [
            {"sku": "A", "source_code": "eu-1", "quantity": 5, "status": 1},
            {"sku": "B", "source_code": "eu-1", "quantity": 0, "status": 0},
        ]
    }


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"message": 'Product with SKU "%1" does not exist.', "parameters": ["X"]}, 'SKU "X" does'),
        ({"message": "access %resources.", "parameters": {"resources": "A::b"}}, "access A::b."),
        ({"message": "%1 and %10", "parameters": [str(n) for n in range(1, 11)]}, "1 and 10"),
        ({"message": "plain"}, "plain"),
    ],
    ids=["positional", "named", "%10 before %1", "no parameters"],
)
def test_render_fills_placeholders(body: dict[str, Any], text: str) -> None:
    assert text in render(body)


# --- orders and paging ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "pages"),
    [(0, ["1"]), (1, ["1"]), (300, ["1"]), (301, ["1", "2"]), (601, ["1", "2", "3"])],
)
def test_paging_ends_on_total_count(
    store: MagentoEmulator, adapter: MagentoAdapter, n: int, pages: list[str]
) -> None:
    ids = [store.add_order(updated_at=T0 + timedelta(seconds=i)) for i in range(n)]
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + HOUR)]
    assert got == [str(i) for i in ids]
    # Never a page past the end (Magento would answer it with the last page again).
    assert pages_asked(store) == pages
    first = store.requests[0]["query"]
    assert first["searchCriteria[pageSize]"] == ["300"]
    groups = {
        (first[f"{g}[field]"][0], first[f"{g}[condition_type]"][0], first[f"{g}[value]"][0])
        for g in (f"searchCriteria[filter_groups][{k}][filters][0]" for k in range(3))
    }
    assert groups == {
        ("updated_at", "from", "2026-03-01 12:00:00"),
        ("updated_at", "to", "2026-03-01 13:00:00"),
        ("state", "eq", "processing"),
    }


def test_emulator_answers_a_page_past_the_end_with_the_last_page(store: MagentoEmulator) -> None:
    for i in range(3):
        store.add_order(updated_at=T0 + timedelta(seconds=i))
    query = {"searchCriteria[pageSize]": 2, "searchCriteria[currentPage]": 9}
    auth = {"Authorization": f"Bearer {store.token}"}
    body = requests.get(f"{store.url}/rest/V1/orders", params=query, headers=auth, timeout=5).json()
    assert body["total_count"] == 3 and [o["entity_id"] for o in body["items"]] == [
        max(store.orders)
    ]


def test_an_order_leaving_the_set_while_paging_skips_none(
    store: MagentoEmulator, adapter: MagentoAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [store.add_order(updated_at=T0 + timedelta(seconds=i)) for i in range(650)]
    served = store._list_orders

    def and_then_one_ships(criteria: dict[str, Any], data: Any):
        reply = served(criteria, data)
        if len(pages_asked(store)) == 1:  # after page 1: the first order is shipped elsewhere
            store.orders[ids[0]]["state"] = "complete"
        return reply

    monkeypatch.setattr(store, "_list_orders", and_then_one_ships)
    got = [o.order_id for o in adapter.fetch_orders(T0, T0 + HOUR)]
    assert sorted(got) == sorted(str(i) for i in ids)  # page 2 shifted by one: re-read
    assert len(got) == len(set(got))
    assert pages_asked(store) == ["1", "2", "3", "1", "2", "3"]


def test_window_and_open_filters(store: MagentoEmulator, adapter: MagentoAdapter) -> None:
    inside = store.add_order(updated_at=T0)
    store.add_order(updated_at=T0 + HOUR)  # the window's end is exclusive
    store.add_order(updated_at=T0, state="new")  # pending payment
    store.add_order(updated_at=T0, total_due="3.00")  # processing, not fully paid
    store.add_order(updated_at=T0, state="complete")
    store.add_order(updated_at=T0, state="holded")
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + HOUR)] == [str(inside)]


def test_a_malformed_order_is_skipped_the_window_goes_on(
    store: MagentoEmulator, adapter: MagentoAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    broken = store.add_order(updated_at=T0)
    fine = store.add_order(updated_at=T0 + timedelta(seconds=1))
    store.orders[broken]["items"][0]["qty_shipped"] = "lots"
    assert adapter.client  # reads the Connection first: Airflow sets up logging on import
    logger = logging.getLogger("adapters.magento")
    logger.addHandler(caplog.handler)
    try:
        assert [o.order_id for o in adapter.fetch_orders(T0, T0 + HOUR)] == [str(fine)]
    finally:
        logger.removeHandler(caplog.handler)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert (
        "'000000100' is malformed, skipped: item 101: {'qty_shipped': 'lots'} is not a whole"
        in logged
    )


def test_open_backlog_by_creation_time(store: MagentoEmulator, adapter: MagentoAdapter) -> None:
    old = store.add_order(updated_at=T0 + HOUR, created_at=T0 - timedelta(seconds=1))
    new = store.add_order(updated_at=T0 + 5 * HOUR, created_at=T0)
    got = [o.order_id for o in adapter.fetch_open_orders(T0)]
    assert got == [str(new)] and str(old) not in got


# --- permissions and errors ----------------------------------------------------------------
def test_full_token_passes_the_store_test(store: MagentoEmulator, adapter: MagentoAdapter) -> None:
    adapter.test_connection()
    assert store.shipments == [] and store.source_items == {}  # the probes wrote nothing


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        ({ORDERS_READ}, [SHIP, SHIPMENTS_READ, SOURCE_ITEMS]),
        ({ORDERS_READ, SHIP, SHIPMENTS_READ}, [SOURCE_ITEMS]),
        ({ORDERS_READ, SOURCE_ITEMS, SHIPMENTS_READ}, [SHIP]),
    ],
    ids=["read-only", "no stock", "no ship"],
)
def test_store_test_names_the_missing_resources(
    store: MagentoEmulator, monkeypatch: pytest.MonkeyPatch, granted: set[str], missing: list[str]
) -> None:
    store.add_order(updated_at=T0)  # an order the ship probe must not touch
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        magento_connection_json(store, token=store.grant(*granted)),
    )
    adapter = get_adapter("magento", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert f"lacks the API resources {', '.join(missing)}:" in message, message
    assert "'acme'" in message and CONN_ID in message and "Integrations" in message
    assert store.shipments == [] and store.source_items == {}
    assert [r["status"] for r in store.requests if r["path"].endswith("/ship")] == [
        401 if SHIP in missing else 404
    ]


def test_a_token_that_cannot_read_orders_fails_at_once(
    store: MagentoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", magento_connection_json(store, token=store.grant(SHIP))
    )
    adapter = get_adapter("magento", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError, match="isn't authorized to access Magento_Sales::"):
        adapter.test_connection()
    assert len(store.requests) == 1  # not retried


def test_unknown_query_parameter_and_body_field_are_refused(store: MagentoEmulator) -> None:
    auth = {"Authorization": f"Bearer {store.token}"}
    url = f"{store.url}/rest/V1"
    answer = requests.get(f"{url}/orders", params={"limit": 5}, headers=auth, timeout=5)
    assert answer.status_code == 400
    assert answer.json() == {
        "message": '"%fieldName" is not supported. Correct the field name and try again.',
        "parameters": {"fieldName": "limit"},
    }
    item = {"sku": "A", "source_code": "default", "quantity": 1, "status": 1, "qty": 1}
    answer = requests.post(f"{url}{SOURCE}", json={"sourceItems": [item]}, headers=auth, timeout=5)
    assert answer.status_code == 400 and answer.json()["parameters"] == {"fieldName": "qty"}
    too_big = {"searchCriteria[pageSize]": 301}
    answer = requests.get(f"{url}/orders", params=too_big, headers=auth, timeout=5)
    assert answer.json() == {
        "message": "Maximum SearchCriteria pageSize is %max",
        "parameters": {"max": 300},
    }


def test_unknown_skus_are_rejected_with_magentos_reason_the_rest_applied(
    store: MagentoEmulator, adapter: MagentoAdapter
) -> None:
    for sku in ("A", "B", "C"):
        store.add_product(sku, 1)
    levels = [InventoryLevel(s, n) for s, n in (("A", 4), ("GONE", 2), ("B", 0), ("C", 7))]
    result = adapter.push_inventory(levels)
    assert result.accepted == ("A", "B", "C")
    assert result.rejected == (("GONE", 'Product with SKU "GONE" does not exist.'),)
    assert (store.quantity("A"), store.quantity("B"), store.quantity("C")) == (4, 0, 7)
    assert store.source_items[("B", "default")]["status"] == 0
    assert store.calls("POST", SOURCE) == 2  # refused once, sent again without GONE


def test_source_code_option_and_batches_of_twenty(
    store: MagentoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.sources.add("eu-1")
    skus = [f"S{i:02d}" for i in range(41)]
    for sku in skus:
        store.add_product(sku, 0, source="eu-1")
    adapter = connect(monkeypatch, store, source_code="eu-1")
    result = adapter.push_inventory([InventoryLevel(s, 3) for s in skus])
    assert len(result.accepted) == 41 and not result.rejected
    assert store.calls("POST", SOURCE) == 3  # 20 + 20 + 1
    assert all(store.quantity(s, "eu-1") == 3 for s in skus)


# --- shipments -----------------------------------------------------------------------------
def test_shipments_partial_twice_and_configurable(
    store: MagentoEmulator, adapter: MagentoAdapter
) -> None:
    order_id = store.add_order(updated_at=T0, lines=[("TEE", 3, "9.00")], configurable=True)
    first = package(store, order_id, "1Z1", (0, 2))
    result = adapter.push_shipments([first, first])
    assert result.accepted == (first.key,) and not result.rejected
    assert store.calls("POST", SHIPS) == 1
    (made,) = store.shipments
    parent = store.orders[order_id]["items"][0]["item_id"]
    assert made["items"] == [{"order_item_id": parent, "qty": 2, "sku": "TEE"}]
    assert {k: made["tracks"][0][k] for k in ("track_number", "carrier_code", "title")} == {
        "track_number": "1Z1",
        "carrier_code": "ups",
        "title": "UPS Ground",
    }
    assert result.details[first.key] == str(made["entity_id"])
    assert store.orders[order_id]["state"] == "processing"
    rest = adapter.push_shipments([package(store, order_id, "1Z2", (0, 5))])
    assert rest.accepted and store.shipments[1]["items"][0]["qty"] == 1  # capped by what is left
    assert store.orders[order_id]["state"] == "complete"
    again = adapter.push_shipments([package(store, order_id, "1Z3", (0, 1))])
    assert again.rejected == (
        (
            f"{first.order_number}|1Z3",
            f"order {first.order_number}: nothing left to ship (already shipped?)",
        ),
    )


def test_unknown_order_and_line_are_rejected(
    store: MagentoEmulator, adapter: MagentoAdapter
) -> None:
    order_id = store.add_order(updated_at=T0)
    gone = Shipment("X-1", "T1", "UPS", (), order_id="999999")
    line = ShipmentLine(sku="", quantity=1, line_id="424242")
    wrong_line = Shipment("X-2", "T2", "UPS", (line,), order_id=str(order_id))
    result = adapter.push_shipments([gone, wrong_line])
    reasons = dict(result.rejected)
    assert reasons["X-1|T1"] == "order X-1 (999999) not found in store"
    assert reasons["X-2|T2"] == "order X-2: no line 424242"
    assert store.shipments == []


# --- rate limit and failures ---------------------------------------------------------------
def test_paced_adapter_is_never_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    with running(MagentoEmulator(rate=20, burst=2)) as store:
        skus = [f"S{i:03d}" for i in range(200)]
        for sku in skus:
            store.add_product(sku)
        for i in range(5):
            store.add_order(updated_at=T0 + timedelta(seconds=i))
        adapter = connect(monkeypatch, store)  # requests_per_second = the emulator's 20
        start = time.monotonic()
        assert len(list(adapter.fetch_orders(T0, T0 + HOUR))) == 5
        assert len(adapter.push_inventory([InventoryLevel(s, 1) for s in skus]).accepted) == 200
        elapsed = time.monotonic() - start
        adapter.close()
    assert len(store.requests) == 11 and store.throttled == 0
    assert [r["status"] for r in store.requests] == [200] * 11
    assert elapsed >= 10 / 20 * 0.9  # 11 requests spaced 50 ms apart


def test_unpaced_adapter_meets_429_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    skus = [f"S{i:02d}" for i in range(41)]  # three writes, back to back
    with running(MagentoEmulator(rate=2, burst=1)) as store:  # a token every 500 ms
        for sku in skus:
            store.add_product(sku)
        adapter = connect(monkeypatch, store, requests_per_second=None)
        result = adapter.push_inventory([InventoryLevel(s, 2) for s in skus])
        adapter.close()
    assert result.accepted == tuple(skus)
    throttled = [r for r in store.requests if r["status"] == 429]
    assert store.throttled == len(throttled) >= 1  # the bucket was empty: 429, Retry-After
    assert [r["status"] for r in store.requests if r["status"] != 429] == [200] * 3


def test_injected_5xx_is_retried(store: MagentoEmulator, adapter: MagentoAdapter) -> None:
    store.add_order(updated_at=T0)
    store.fail_next(2, status=503)
    assert len(list(adapter.fetch_orders(T0, T0 + HOUR))) == 1
    assert [r["status"] for r in store.requests] == [503, 503, 200]


def test_an_emulator_crash_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    crashed = pytest.raises(EmulatorCrashed, match="MagentoEmulator crashed")
    with crashed, running(MagentoEmulator()) as store:

        def broken(criteria: dict[str, Any], data: Any) -> Any:
            raise KeyError("bug in the emulator")

        monkeypatch.setattr(store, "_list_orders", broken)
        adapter = connect(monkeypatch, store)
        monkeypatch.setattr(MagentoAdapter, "retry_policy", RetryPolicy(attempts=1))
        with pytest.raises(Exception, match="unavailable"):
            list(adapter.fetch_orders(T0, T0 + HOUR))
        assert "bug in the emulator" in store.requests[0]["crash"]


def test_fixed_rate_pacer_spaces_requests_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = FixedRatePacer(4, clock=lambda: now[0])
    for _ in range(3):
        pacer.wait(sleep)
    assert slept == [0.25, 0.25] and pacer.waits == 2
    now[0] += 10  # idle: the next one goes at once
    pacer.wait(sleep)
    assert slept == [0.25, 0.25]
    with pytest.raises(ValueError, match="positive"):
        FixedRatePacer(0)


def test_a_rate_that_is_not_a_number_is_a_configuration_error(
    store: MagentoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = connect(monkeypatch, store, requests_per_second="fast")
    with pytest.raises(ConfigurationError, match="requests_per_second 'fast' of Airflow Conn"):
        adapter.test_connection()
    assert store.requests == []


def test_store_options_are_checked() -> None:
    from adapters.options import store_option_problems

    assert store_option_problems("magento", {"source_code": "eu-1", "requests_per_second": 5}) == []
    assert store_option_problems("magento", {"source": "eu-1"}) == [
        "'source' is not an option of magento (known: source_code, requests_per_second)"
    ]
    (problem,) = store_option_problems("magento", {"requests_per_second": 0})
    assert problem.startswith("'requests_per_second': Input should be greater than 0")


def test_virtual_products_need_no_shipping(store: MagentoEmulator, adapter: MagentoAdapter) -> None:
    store.add_order(updated_at=T0, lines=(("WARRANTY", 1, "15.00"), ("MUG", 2, "9.00")),
                    virtual_skus={"WARRANTY"})  # fmt: skip
    (order,) = adapter.fetch_orders(T0, T0 + HOUR)
    assert [(ln.sku, ln.requires_shipping) for ln in order.lines] == [
        ("WARRANTY", False),
        ("MUG", True),
    ]


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_are_canceled_and_closed_orders_in_the_window(
    store: MagentoEmulator, adapter: MagentoAdapter
) -> None:
    """A paid (invoiced) order cannot be cancelled in Magento: the merchant refunds it in full,
    which closes it; an order with an amount due is cancelled. Both are cancellations."""
    kept = store.add_order(updated_at=T0)
    refunded = store.add_order(updated_at=T0, lines=(("MUG", 2, "12.50"),))
    unpaid = store.add_order(updated_at=T0, state="new", total_due="10.00")
    earlier = store.add_order(updated_at=T0 - HOUR)
    store.cancel_order(refunded, at=T0 + timedelta(minutes=7))
    store.cancel_order(unpaid, at=T0 + timedelta(minutes=8))
    store.cancel_order(earlier, at=T0 - timedelta(minutes=1))

    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))

    assert [(c.order.order_id, c.cancelled_at, c.reason) for c in found] == [
        (str(refunded), T0 + timedelta(minutes=7), "refunded in full in Magento (order closed)"),
        (str(unpaid), T0 + timedelta(minutes=8), "canceled in Magento"),
    ]
    assert [(ln.sku, ln.quantity) for ln in found[0].order.lines] == [("MUG", 2)]
    assert pages_asked(store) == ["1"]  # one listing of both states
    query = store.requests[-1]["query"]
    state = [k for k, v in query.items() if v == ["state"]][0].replace("[field]", "")
    assert (query[f"{state}[value]"], query[f"{state}[condition_type]"]) == (
        ["canceled,closed"],
        ["in"],
    )
    assert [o.order_id for o in adapter.fetch_orders(T0, T0 + HOUR)] == [str(kept)]
    item = store.orders[refunded]["items"][0]
    assert (item["qty_refunded"], store.orders[unpaid]["items"][0]["qty_canceled"]) == (2, 1)
    with pytest.raises(ValueError, match="closed: it cannot be canceled"):
        store.cancel_order(refunded, at=T0 + timedelta(minutes=9))
    shipped = store.add_order(updated_at=T0, lines=(("A", 2, "1.00"),))
    store.orders[shipped]["items"][0]["qty_shipped"] += 1
    with pytest.raises(ValueError, match="has shipments"):
        store.cancel_order(shipped, at=T0 + timedelta(minutes=9))


def test_a_malformed_cancelled_order_is_skipped_and_named(
    store: MagentoEmulator, adapter: MagentoAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = (store.add_order(updated_at=T0) for _ in range(2))
    for order_id in (broken, fine):
        store.cancel_order(order_id, at=T0 + timedelta(minutes=1))
    store.orders[broken]["items"][0]["qty_ordered"] = Decimal("1.5")
    assert [c.order_id for c in adapter.fetch_cancellations(T0, T0 + HOUR)] == [str(fine)]
    assert f"Magento order '{store.orders[broken]['increment_id']}' is malformed" in caplog.text
    closed = to_cancellation(store.orders[fine])
    assert closed.reason == "refunded in full in Magento (order closed)"

"""EtsyAdapter against the strict local Etsy emulator (real HTTP, OAuth refresh tokens, rate
limits), plus its pure mappings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters import get_adapter
from adapters.allocation import OpenLine
from adapters.base import RetryPolicy
from adapters.etsy import EtsyAdapter
from adapters.etsy.mapping import inventory_body, money, package_note, to_cancellation, to_order
from adapters.pacing import QuotaSpent
from dropstream.errors import AuthenticationError, DataError, TransientError
from dropstream.models import InventoryLevel, Shipment, ShipmentLine
from dropstream.sandbox.strict import EmulatorCrashed
from tests.servers.etsy import EtsyEmulator, etsy_connection_json

CONN_ID = "dropstream_acme_store"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.05, jitter=0.01)
TOKEN = "/v3/public/oauth/token"
RECEIPTS = r"/v3/application/shops/\d+/receipts"
INVENTORY = r"/v3/application/listings/\d+/inventory"


@pytest.fixture
def etsy(etsy_emulator: EtsyEmulator, monkeypatch: pytest.MonkeyPatch) -> EtsyEmulator:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", etsy_connection_json(etsy_emulator))
    monkeypatch.setattr(EtsyAdapter, "retry_policy", FAST)
    return etsy_emulator


@pytest.fixture
def adapter(etsy: EtsyEmulator) -> EtsyAdapter:
    built = get_adapter("etsy", CONN_ID, connection_name="acme")
    assert isinstance(built, EtsyAdapter)
    yield built
    built.close()


def fetch(adapter: EtsyAdapter, since: datetime = T0, until: datetime | None = None) -> list[str]:
    return [o.order_id for o in adapter.fetch_orders(since, until or T0 + timedelta(days=1))]


def package(receipt: dict, tracking: str, *lines: tuple[int, int]) -> Shipment:
    items = receipt["transactions"]
    return Shipment(
        order_number=str(receipt["receipt_id"]),
        tracking_number=tracking,
        carrier="USPS",
        order_id=str(receipt["receipt_id"]),
        lines=tuple(
            ShipmentLine(sku=items[i]["sku"], quantity=n, line_id=str(items[i]["transaction_id"]))
            for i, n in lines
        ),
    )


# --- pure mappings -------------------------------------------------------------------------
RECEIPT = {
    "receipt_id": 3012345678,
    "name": "Zoë Buyer",
    "first_line": "Straße 5",
    "second_line": None,
    "city": "Köln",
    "state": "NW",
    "zip": "50667",
    "country_iso": "DE",
    "buyer_email": "zoe@example.com",
    "message_from_buyer": "Gift wrap, please",
    "status": "Paid",
    "is_shipped": False,
    "created_timestamp": 1772366400,  # 2026-03-01T12:00:00Z
    "updated_timestamp": 1772366460,
    "transactions": [
        {
            "transaction_id": 4001,
            "sku": "MUG-1",
            "quantity": 2,
            "price": {"amount": 1210, "divisor": 100, "currency_code": "EUR"},
            "shipping_method": "Standard",
            "shipping_upgrade": "Express",
        },
        {
            "transaction_id": 4002,
            "sku": None,
            "quantity": 1,
            "price": {"amount": 10, "divisor": 100, "currency_code": "EUR"},
        },
    ],
}


def test_receipt_maps_to_an_order() -> None:
    order = to_order(RECEIPT)
    assert (order.order_id, order.number, order.channel) == ("3012345678",) * 2 + ("etsy",)
    assert order.created_at == T0 and order.updated_at == T0 + timedelta(minutes=1)
    ship = order.ship_to
    assert (ship.name, ship.address1, ship.address2, ship.city) == (
        "Zoë Buyer",
        "Straße 5",
        "",
        "Köln",
    )
    assert (ship.state, ship.postal_code, ship.country, ship.phone) == ("NW", "50667", "DE", "")
    assert [
        (ln.line_id, ln.sku, ln.quantity, ln.unit_price, ln.line_number) for ln in order.lines
    ] == [
        ("4001", "MUG-1", 2, Decimal("12.10"), 1),
        ("4002", "", 1, Decimal("0.10"), 2),
    ]
    assert str(order.lines[0].unit_price) == "12.10"  # exact, with its cents
    assert (order.email, order.notes, order.currency) == (
        "zoe@example.com",
        "Gift wrap, please",
        "EUR",
    )
    assert (order.ship_method, order.financial_status, order.fulfillment_status) == (
        "Express",
        "Paid",
        "unshipped",
    )


@pytest.mark.parametrize(
    ("amount", "divisor", "expected"),
    [(1210, 100, "12.10"), (5, 100, "0.05"), (1500, 1, "1500"), (12345, 1000, "12.345")],
)
def test_money_is_exact(amount: int, divisor: int, expected: str) -> None:
    assert str(money({"amount": amount, "divisor": divisor})) == expected


def test_malformed_receipt_names_it() -> None:
    broken = {k: v for k, v in RECEIPT.items() if k != "updated_timestamp"}
    with pytest.raises(DataError, match="3012345678"):
        to_order(broken)


def test_inventory_body_is_what_the_update_takes_back() -> None:
    read = {
        "products": [
            {
                "product_id": 1,
                "sku": "TEE-S",
                "is_deleted": False,
                "offerings": [
                    {
                        "offering_id": 2,
                        "quantity": 3,
                        "is_enabled": True,
                        "is_deleted": False,
                        "price": {"amount": 1999, "divisor": 100, "currency_code": "USD"},
                    }
                ],
                "property_values": [
                    {
                        "property_id": 513,
                        "property_name": "Size",
                        "scale_id": 1,
                        "scale_name": "Letter",
                        "value_ids": [7],
                        "values": ["S"],
                    }
                ],  # fmt: skip
            }
        ],
        "price_on_property": [],
        "quantity_on_property": [513],
        "sku_on_property": [513],
        "listing": None,
    }
    body, changed = inventory_body(read, {"TEE-S": 0, "OTHER": 5})
    assert changed
    assert body == {
        "products": [
            {
                "sku": "TEE-S",
                "offerings": [{"quantity": 0, "is_enabled": True, "price": 19.99}],
                "property_values": [
                    {
                        "property_id": 513,
                        "property_name": "Size",
                        "scale_id": 1,
                        "value_ids": [7],
                        "values": ["S"],
                    }
                ],  # fmt: skip
            }
        ],
        "price_on_property": [],
        "quantity_on_property": [513],
        "sku_on_property": [513],
        "readiness_state_on_property": [],
    }
    assert inventory_body(read, {"TEE-S": 3})[1] is False


def test_package_note_only_for_part_of_a_receipt() -> None:
    lines = [
        OpenLine("1", "1", "A", 2, {"title": "Blue mug"}),
        OpenLine("2", "2", "B", 1, {"title": "Tee"}),
    ]
    assert package_note({"1": 2, "2": 1}, lines) == ""
    assert package_note({"1": 1}, lines) == (
        "This package holds part of your order: 1 × Blue mug. The rest ships separately."
    )


# --- orders and paging ---------------------------------------------------------------------
@pytest.mark.parametrize(("n", "pages"), [(0, 1), (1, 1), (100, 1), (101, 2), (250, 3)])
def test_receipt_pages(etsy: EtsyEmulator, adapter: EtsyAdapter, n: int, pages: int) -> None:
    ids = [str(etsy.add_receipt(updated_at=T0 + timedelta(seconds=i))) for i in range(n)]
    assert fetch(adapter) == ids  # oldest first
    assert etsy.calls("GET", RECEIPTS) == pages  # ``count`` ends a full last page
    assert etsy.calls("POST", TOKEN) == 1  # the access token is cached


def test_server_ignoring_offset_is_a_loop_not_a_hang(
    etsy: EtsyEmulator, adapter: EtsyAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(150):
        etsy.add_receipt(updated_at=T0 + timedelta(seconds=i))
    receipts = etsy._receipts

    def first_page_always(match, q, payload):  # type: ignore[no-untyped-def]
        return receipts(match, q | {"offset": "0"}, payload)

    monkeypatch.setattr(etsy, "_receipts", first_page_always)
    with pytest.raises(TransientError, match="pagination loop"):
        fetch(adapter)


def test_window_is_half_open_to_the_second(etsy: EtsyEmulator, adapter: EtsyAdapter) -> None:
    before = etsy.add_receipt(updated_at=T0 - timedelta(seconds=1))
    at_since = etsy.add_receipt(updated_at=T0)
    at_until = etsy.add_receipt(updated_at=T0 + timedelta(minutes=15))
    assert fetch(adapter, T0, T0 + timedelta(minutes=15)) == [str(at_since)]
    # A window edge inside a second: Etsy's filter is whole seconds, ours is exact.
    edge = T0 + timedelta(minutes=15, microseconds=500_000)
    assert fetch(adapter, T0 - timedelta(seconds=1), edge) == [
        str(before),
        str(at_since),
        str(at_until),
    ]
    assert fetch(adapter, edge, T0 + timedelta(hours=1)) == []
    query = etsy.requests[-1]["query"]
    assert query["min_last_modified"] == [str(int(edge.timestamp()))]
    assert {k: query[k] for k in ("was_paid", "was_shipped", "was_canceled")} == {
        "was_paid": ["true"],
        "was_shipped": ["false"],
        "was_canceled": ["false"],
    }


def test_only_paid_unshipped_live_receipts(etsy: EtsyEmulator, adapter: EtsyAdapter) -> None:
    wanted = etsy.add_receipt(updated_at=T0)
    etsy.add_receipt(updated_at=T0, paid=False)
    etsy.add_receipt(updated_at=T0, shipped=True)
    etsy.add_receipt(updated_at=T0, canceled=True)
    assert fetch(adapter) == [str(wanted)]


# --- tokens, scopes, errors ----------------------------------------------------------------
def test_expired_token_is_refreshed_once_as_a_public_client(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    etsy.add_receipt(updated_at=T0)
    assert len(fetch(adapter)) == 1
    etsy.expire_tokens()
    assert len(fetch(adapter)) == 1
    assert etsy.calls("POST", TOKEN) == 2
    assert [r["status"] for r in etsy.requests if r["path"] == TOKEN] == [200, 200]
    # The emulator refuses a client_secret in the form (Etsy's refresh takes the keystring only).


def test_refused_refresh_token_names_the_connection(
    etsy: EtsyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(etsy_connection_json(etsy))
    conn["extra"]["refresh_token"] = "12345678.revoked"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    adapter = get_adapter("etsy", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError, match="refresh_token extra in Airflow Connection") as e:
        adapter.test_connection()
    assert "'acme'" in str(e.value) and "12345678.revoked" not in str(e.value)
    assert len(etsy.requests) == 1  # no retry of bad credentials


def test_read_only_token_fails_the_store_test_naming_the_missing_scopes(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    etsy.granted_scopes = {"transactions_r", "listings_r"}
    with pytest.raises(AuthenticationError) as caught:
        adapter.test_connection()
    message = str(caught.value)
    assert "lacks OAuth scopes transactions_w, listings_w" in message
    assert CONN_ID in message and "'acme'" in message
    assert etsy.calls("GET", RECEIPTS) == 0  # nothing else tried


def test_full_token_passes_the_store_test_writing_nothing(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    adapter.test_connection()
    assert {r["method"] for r in etsy.requests} == {"POST", "GET"}
    assert etsy.calls("POST", "/v3/application/scopes") == 1
    assert not etsy.calls("POST", r".*/tracking") and not etsy.calls("PUT", ".*")


def test_wrong_shop_id_is_a_403_with_etsys_reason(
    etsy: EtsyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", etsy_connection_json(etsy, shop_id="27182818")
    )
    adapter = get_adapter("etsy", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError, match="Shop 27182818 does not belong") as caught:
        adapter.test_connection()
    assert "{" not in str(caught.value)  # Etsy's text, not its JSON


def test_wrong_shared_secret_is_not_mistaken_for_an_expired_token(
    etsy: EtsyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(etsy_connection_json(etsy)) | {"password": "not-the-secret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    adapter = get_adapter("etsy", CONN_ID, connection_name="acme")
    with pytest.raises(AuthenticationError, match="x-api-key") as caught:
        fetch(adapter)
    assert "not-the-secret" not in str(caught.value)
    assert etsy.calls("POST", TOKEN) == 1  # a 401 for the API key refreshes nothing


def test_missing_shop_id_is_a_configuration_error(
    etsy: EtsyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(etsy_connection_json(etsy))
    del conn["extra"]["shop_id"]
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    with pytest.raises(Exception, match="extra shop_id"):
        get_adapter("etsy", CONN_ID, connection_name="acme").test_connection()
    assert etsy.requests == []


def test_unknown_receipt_rejects_that_package_only(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    receipt = etsy.receipts[etsy.add_receipt(updated_at=T0)]
    good = package(receipt, "1ZGOOD", (0, 1))
    missing = Shipment(
        order_number="9",
        tracking_number="1ZX",
        carrier="UPS",
        order_id="999",
        lines=(ShipmentLine(sku="A", quantity=1),),
    )
    result = adapter.push_shipments([missing, good])
    assert result.accepted == (good.key,)
    ((key, why),) = result.rejected
    assert key == missing.key and "Receipt 999 not found" in why


# --- shipments -----------------------------------------------------------------------------
def test_part_of_a_receipt_tells_the_buyer_what_the_package_holds(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    receipt = etsy.receipts[
        etsy.add_receipt(updated_at=T0, lines=[("A", 2, "1.00"), ("B", 1, "2.00")])
    ]
    first = adapter.push_shipments([package(receipt, "1Z1", (0, 1))])
    rest = adapter.push_shipments([package(receipt, "1Z2", (0, 1), (1, 1))])
    assert not first.rejected and not rest.rejected
    assert etsy.notes == {
        "1Z1": "This package holds part of your order: 1 × Item A. The rest ships separately.",
        "1Z2": (
            "This package holds part of your order: 1 × Item A; 1 × Item B. "
            "The rest ships separately."
        ),
    }
    tracking = [r for r in etsy.requests if r["path"].endswith("/tracking")]
    assert len(tracking) == 2 and receipt["is_shipped"]
    assert [s["carrier_name"] for s in receipt["shipments"]] == ["usps", "usps"]


def test_whole_receipt_in_one_package_has_no_note_and_is_pushed_once(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    receipt = etsy.receipts[etsy.add_receipt(updated_at=T0, lines=[("A", 2, "1.00")])]
    shipment = package(receipt, "1ZALL", (0, 2))
    first, again = adapter.push_shipments([shipment]), adapter.push_shipments([shipment])
    assert first == again and first.accepted == (shipment.key,)
    assert etsy.notes == {} and len(receipt["shipments"]) == 1
    assert first.details[shipment.key] == str(receipt["shipments"][0]["receipt_shipping_id"])


# --- inventory -----------------------------------------------------------------------------
def test_a_variation_goes_to_zero_in_one_put_of_its_listing(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    listing = etsy.add_listing([("TEE-S", 4), ("TEE-M", 2), ("TEE-L", 7)])
    result = adapter.push_inventory([InventoryLevel("TEE-S", 0), InventoryLevel("TEE-M", 5)])
    assert result.accepted == ("TEE-S", "TEE-M") and not result.rejected
    assert [etsy.quantity(s) for s in ("TEE-S", "TEE-M", "TEE-L")] == [0, 5, 7]
    assert etsy.calls("PUT", INVENTORY) == 1
    assert result.details == {"TEE-S": f"listing {listing}", "TEE-M": f"listing {listing}"}


def test_the_last_stock_of_a_listing_cannot_go_to_zero(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    etsy.add_listing([("MUG", 3)])
    result = adapter.push_inventory([InventoryLevel("MUG", 0)])
    ((sku, why),) = result.rejected
    assert sku == "MUG" and "deactivate it in Shop Manager" in why
    assert etsy.quantity("MUG") == 3 and etsy.calls("PUT", INVENTORY) == 0


def test_unchanged_and_unknown_skus_cost_no_write(etsy: EtsyEmulator, adapter: EtsyAdapter) -> None:
    etsy.add_listing([("SAME", 3)])
    etsy.add_listing([("SOLD", 0)])  # sold out: restocking it is a write
    result = adapter.push_inventory(
        [InventoryLevel("SAME", 3), InventoryLevel("NOPE", 1), InventoryLevel("SOLD", 4)]
    )
    assert result.accepted == ("SAME", "SOLD")
    assert result.rejected == (
        ("NOPE", f"no active or sold-out listing of Etsy {adapter.shop} has it"),
    )
    assert etsy.calls("PUT", INVENTORY) == 1 and etsy.quantity("SOLD") == 4
    assert etsy.calls("GET", r".*/listings") == 2  # active and sold-out, one page each


# --- rate limits ---------------------------------------------------------------------------
def test_per_second_limit_is_kept_without_a_throttled_request(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    etsy.per_second = 4
    etsy.second.capacity = 4.0
    etsy.second.set(rate=4, available=4)
    for i in range(12):
        etsy.add_listing([(f"SKU-{i}", 1)])
    result = adapter.push_inventory([InventoryLevel(f"SKU-{i}", 2) for i in range(12)])
    assert len(result.accepted) == 12
    assert etsy.throttled == 0 and 429 not in [r["status"] for r in etsy.requests]
    assert adapter.http.pacer is not None and adapter.http.pacer.waits >= 3  # type: ignore[attr-defined]


def test_a_spent_day_stops_before_etsy_refuses(etsy: EtsyEmulator, adapter: EtsyAdapter) -> None:
    etsy.per_day = 3  # listings: active, sold-out, one PUT; then none left (tokens are free)
    for i in range(3):
        etsy.add_listing([(f"SKU-{i}", 1)])
    with pytest.raises(QuotaSpent, match="daily request quota is spent"):
        adapter.push_inventory([InventoryLevel(f"SKU-{i}", 2) for i in range(3)])
    assert etsy.throttled == 0 and etsy.used_today == 3


# --- the emulator itself -------------------------------------------------------------------
def test_an_emulator_crash_fails_the_test_not_just_the_request(
    etsy: EtsyEmulator, adapter: EtsyAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("bug in the emulator")

    monkeypatch.setattr(etsy, "_receipts", broken)
    with pytest.raises(TransientError):  # the adapter saw 500s and gave up retrying
        fetch(adapter)
    with pytest.raises(EmulatorCrashed, match="bug in the emulator"):
        etsy.check_no_crash()
    etsy.crashes.clear()  # this test provoked it; the fixture's teardown checks the rest


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ({"limit": "1", "colour": "red"}, "Unexpected query parameter: colour"),
        ({"limit": "101"}, "limit must be between 1 and 100"),
        ({"was_paid": "yes"}, "expected true or false"),
    ],
)
def test_the_emulator_refuses_what_etsy_refuses(
    etsy: EtsyEmulator, adapter: EtsyAdapter, query: dict[str, str], refused: str
) -> None:
    adapter.test_connection()  # a token
    http = adapter.http
    response = http.session.get(
        f"{etsy.url}/v3/application/shops/{etsy.shop_id}/receipts", params=query
    )
    assert response.status_code == 400 and refused in response.json()["error"]
    listing = etsy.add_listing([("A", 1)])
    money_price = {"products": [{"sku": "A", "offerings": [{"price": {"amount": 1}, "quantity": 1}],
                                 "property_values": []}]}  # fmt: skip
    put = http.session.put(
        f"{etsy.url}/v3/application/listings/{listing}/inventory", json=money_price
    )
    assert put.status_code == 400 and put.json() == {"error": "Expected type float for price"}


def test_digital_listings_need_no_shipping(etsy: EtsyEmulator, adapter: EtsyAdapter) -> None:
    etsy.add_receipt(updated_at=T0, lines=(("PATTERN-PDF", 1, "4.00"), ("MUG", 2, "9.00")),
                     digital_skus={"PATTERN-PDF"})  # fmt: skip
    (order,) = adapter.fetch_orders(T0, T0 + timedelta(minutes=15))
    assert [(ln.sku, ln.requires_shipping) for ln in order.lines] == [
        ("PATTERN-PDF", False),
        ("MUG", True),
    ]


# --- cancellations ---------------------------------------------------------------------------
def test_cancellations_are_canceled_receipts_in_the_window(
    etsy: EtsyEmulator, adapter: EtsyAdapter
) -> None:
    kept = etsy.add_receipt(updated_at=T0)
    cancelled = etsy.add_receipt(updated_at=T0, lines=(("MUG", 2, "12.50"),))
    earlier = etsy.add_receipt(updated_at=T0 - timedelta(hours=1))
    etsy.cancel_order(cancelled, at=T0 + timedelta(minutes=7), reason="Buyer requested it")
    etsy.cancel_order(earlier, at=T0 - timedelta(minutes=1))

    found = list(adapter.fetch_cancellations(T0, T0 + timedelta(minutes=15)))

    assert [(c.order.order_id, c.cancelled_at, c.reason) for c in found] == [
        (str(cancelled), T0 + timedelta(minutes=7), "canceled on Etsy (Buyer requested it)")
    ]
    assert [(ln.sku, ln.quantity) for ln in found[0].order.lines] == [("MUG", 2)]
    query = etsy.requests[-1]["query"]  # one listing, Etsy's own filter: no paid/shipped flags
    assert etsy.calls("GET", RECEIPTS) == 1 and query["was_canceled"] == ["true"]
    assert not {"was_paid", "was_shipped"} & set(query)
    assert fetch(adapter, T0, T0 + timedelta(minutes=15)) == [str(kept)]  # no longer open
    receipt = etsy.receipts[cancelled]
    assert receipt["status"] == "Canceled"
    assert receipt["refunds"][0]["reason"] == "Buyer requested it"
    with pytest.raises(ValueError, match="canceled already"):
        etsy.cancel_order(cancelled, at=T0 + timedelta(minutes=9))
    shipped = etsy.add_receipt(updated_at=T0, shipped=True)
    with pytest.raises(ValueError, match="shipped: it cannot be canceled"):
        etsy.cancel_order(shipped, at=T0 + timedelta(minutes=9))


def test_cancellation_mapping_without_a_refund_reason() -> None:
    raw = RECEIPT | {"status": "Canceled", "refunds": [{"reason": None, "status": None}]}
    cancellation = to_cancellation(raw)
    assert cancellation.reason == "canceled on Etsy"
    assert cancellation.cancelled_at == datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
    assert cancellation.order.number == "3012345678"

"""The webhook receiver as a store reaches it: signed and unsigned deliveries over HTTP.

The app is the plugin's own (``create_app``), the replay store is a real migrated ledger, the
coalescing of asset events is the product's ``Announcer``; only the registry lookup and the REST
call that records an asset event are swapped for in-memory ones (the real ones run against a
real api-server and scheduler in tests/dags/test_webhooks_real_scheduler.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dropstream.ledger.webhooks import REPLAY_WINDOW
from dropstream.web import webhooks
from dropstream.web.app import create_app
from dropstream.web.asset_events import Announcer, RecordFailed
from dropstream.web.receipts import Receipts
from dropstream.webhooks import MAX_BODY

SECRET = "s3cret-for-tests"
TARGETS = {
    "acme-shop": webhooks.Target("acme-shop", "shopify", SECRET),
    "acme-woo": webhooks.Target("acme-woo", "woocommerce", SECRET),
    "acme-bc": webhooks.Target("acme-bc", "bigcommerce", SECRET),
}
BUYER = "ada.buyer@example.com"  # in every body: it must never reach a log line


class Recorder:
    """Stands for Airflow's ``POST /assets/events``: takes ``delay`` seconds, fails ``failures``
    times (then records), or always while ``fail`` is set; waits while ``gate`` is closed."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        self.failures = 0
        self.delay = 0.0
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def __call__(self, connection: str, extra: dict[str, Any]) -> None:
        assert self.gate.wait(30), "the gate stayed closed"
        time.sleep(self.delay)
        with self._lock:
            if self.fail or self.failures:
                self.failures = max(0, self.failures - 1)
                raise RecordFailed("Airflow API unreachable (test)")
            self.events.append((connection, extra))

    def keys(self) -> list[str]:
        return sorted(key for _, extra in self.events for key in extra["delivery_ids"])


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def announcer(recorder) -> Announcer:
    return Announcer(recorder, retry_for=5.0, wait_max=0.05)


@pytest.fixture
def receipts(ledger):
    receipts = Receipts(ledger)
    yield receipts
    receipts.close()


async def find(connection: str) -> webhooks.Target | None:
    return TARGETS.get(connection)


def plugin_app(receipts: Receipts, announcer: Announcer) -> Any:
    """The plugin's app with the registry lookup in memory and the Airflow REST call faked."""
    app = create_app()
    app.dependency_overrides[webhooks.targets] = lambda: find
    app.dependency_overrides[webhooks.announcer] = lambda: announcer
    app.dependency_overrides[webhooks.deliveries] = lambda: receipts
    return app


@pytest.fixture
def client(receipts, announcer):
    with TestClient(plugin_app(receipts, announcer)) as client:
        yield client
    assert announcer.wait_idle(10)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def order_body(number: int = 1001) -> bytes:
    return json.dumps({"id": number, "email": BUYER, "line_items": []}).encode()


def shopify(body: bytes, *, event: str | None = None, topic: str = "orders/create", **over):
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body),
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event or str(uuid.uuid4()),
    }
    headers.update(over)
    return {k: v for k, v in headers.items() if v is not None}


def post(client, connection: str, body: bytes, headers: dict[str, str]):
    return client.post(f"/webhooks/{connection}", content=body, headers=headers)


def test_a_signed_shopify_order_webhook_records_one_asset_event(
    client, recorder, announcer, caplog
):
    caplog.set_level(logging.DEBUG)
    body = order_body()
    answer = post(client, "acme-shop", body, shopify(body, event="ev-1"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"connection": "acme-shop", "recorded": True}
    assert announcer.wait_idle(5)
    assert recorder.events == [
        (
            "acme-shop",
            {
                "platform": "shopify",
                "deliveries": 1,
                "topics": ["orders/create"],
                "delivery_ids": ["ev-1"],
            },
        )
    ]
    assert BUYER not in caplog.text and body.decode() not in caplog.text


@pytest.mark.parametrize(
    ("name", "connection", "tamper", "code"),
    [
        ("bad signature", "acme-shop", {"X-Shopify-Hmac-Sha256": sign(b"other")}, 401),
        ("signed with another secret", "acme-shop", "other-secret", 401),
        ("missing signature", "acme-shop", {"X-Shopify-Hmac-Sha256": None}, 401),
        ("non-ASCII signature", "acme-shop", {"X-Shopify-Hmac-Sha256": "é".encode()}, 401),
        ("unknown connection", "nobody", {}, 404),
        (
            "no event id",
            "acme-shop",
            {"X-Shopify-Event-Id": None, "X-Shopify-Webhook-Id": None},
            400,
        ),
    ],
)
def test_refused_deliveries_record_nothing(
    client, recorder, announcer, caplog, name, connection, tamper, code
):
    body = order_body()
    if isinstance(tamper, str):
        headers = shopify(body, **{"X-Shopify-Hmac-Sha256": sign(body, tamper)})
    else:
        headers = shopify(body, **tamper)
    answer = post(client, connection, body, {k: v for k, v in headers.items() if v is not None})
    assert answer.status_code == code, (name, answer.text)
    assert announcer.wait_idle(5)
    assert recorder.events == []
    assert BUYER not in caplog.text


def test_an_oversized_body_is_refused_unread(client, recorder, announcer):
    body = b"x" * (MAX_BODY + 1)
    answer = post(client, "acme-shop", body, shopify(body))
    assert answer.status_code == 413
    # No Content-Length (chunked): refused as soon as the stream passes the limit.
    chunks = iter([b"x" * 65536] * (MAX_BODY // 65536 + 2))
    headers = shopify(b"")
    answer = client.post("/webhooks/acme-shop", content=chunks, headers=headers)
    assert answer.status_code == 413
    assert announcer.wait_idle(5)
    assert recorder.events == []


def test_a_body_of_exactly_the_limit_is_read(client, recorder, announcer):
    body = b" " * (MAX_BODY - 2) + b"{}"
    assert post(client, "acme-shop", body, shopify(body)).status_code == 200
    assert announcer.wait_idle(5)
    assert len(recorder.events) == 1


def test_a_duplicate_the_store_may_send_is_acknowledged_and_starts_nothing(
    client, recorder, announcer
):
    # Shopify re-sends an event it got no 2xx for within 5 s (8 times over 4 hours): anything
    # but a 2xx would make it retry again and finally drop the subscription.
    body = order_body()
    assert post(client, "acme-shop", body, shopify(body, event="ev-7")).status_code == 200
    again = post(client, "acme-shop", body, shopify(body, event="ev-7"))
    assert again.status_code == 200
    assert again.json() == {"connection": "acme-shop", "recorded": False, "duplicate": True}
    # A new event of the same store is let in.
    assert post(client, "acme-shop", body, shopify(body, event="ev-8")).status_code == 200
    assert announcer.wait_idle(5)
    assert recorder.keys() == ["ev-7", "ev-8"]


def one_delivery(connection: str) -> tuple[bytes, dict[str, str]]:
    """A signed order delivery to the connection of that platform, with a fixed key."""
    if connection == "acme-bc":
        token = {"Content-Type": "application/json", "X-DropStream-Webhook-Token": SECRET}
        return bigcommerce("store/order/created", 251, "b" * 40), token
    body = order_body()
    return body, woo(body, "d-old") if connection == "acme-woo" else shopify(body, event="ev-old")


@pytest.mark.parametrize(
    ("connection", "age", "code"),
    [
        ("acme-shop", timedelta(hours=4), 200),  # within Shopify's retries: a duplicate
        ("acme-shop", timedelta(hours=6), 409),  # Shopify stopped retrying after 4 hours
        ("acme-bc", timedelta(hours=40), 200),  # BigCommerce retries for about two days
        ("acme-bc", timedelta(hours=50), 409),
        ("acme-woo", timedelta(seconds=2), 200),  # the same WooCommerce delivery, same second
        ("acme-woo", timedelta(minutes=5), 409),  # WooCommerce never re-sends a delivery
        ("acme-shop", REPLAY_WINDOW + timedelta(minutes=1), 200),  # forgotten: new again
    ],
)
def test_a_replay_later_than_the_store_re_sends_is_refused_and_records_nothing(
    client, recorder, announcer, ledger, connection, age, code
):
    body, headers = one_delivery(connection)
    first = post(client, connection, body, headers)
    assert first.status_code == 200 and first.json()["recorded"] is True
    assert announcer.wait_idle(5)
    recorded = len(recorder.events)
    # The first receipt, moved back in time as if it had happened ``age`` ago.
    from sqlalchemy import update

    from dropstream.ledger.schema import webhook_deliveries as table

    with ledger.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.connection == connection)
            .values(received_at=datetime.now(UTC) - age)
        )
    again = post(client, connection, body, headers)
    assert again.status_code == code, again.text
    assert announcer.wait_idle(5)
    new_again = age > REPLAY_WINDOW
    assert len(recorder.events) == recorded + (1 if new_again else 0)
    if code == 409:
        assert "replayed delivery" in again.json()["detail"]


def test_an_asset_event_that_fails_is_retried_in_the_background(client, recorder, announcer):
    body = order_body()
    recorder.failures = 2  # the REST API answers 503 twice, then records
    answer = post(client, "acme-shop", body, shopify(body, event="ev-9"))
    assert answer.status_code == 200  # the delivery is in the ledger: the store is done
    assert announcer.wait_idle(10)
    assert recorder.keys() == ["ev-9"]


def test_an_asset_event_that_keeps_failing_is_left_to_the_schedule(receipts, recorder, caplog):
    announcer = Announcer(recorder, retry_for=0.3, wait_max=0.05)
    recorder.fail = True
    body = order_body()
    with TestClient(plugin_app(receipts, announcer)) as client:
        assert post(client, "acme-shop", body, shopify(body, event="ev-10")).status_code == 200
        assert announcer.wait_idle(10)
        assert "the next scheduled orders run fetches their orders" in caplog.text
        # The connection is not stuck: the next delivery is recorded once the API is back.
        recorder.fail = False
        assert post(client, "acme-shop", body, shopify(body, event="ev-11")).status_code == 200
        assert announcer.wait_idle(10)
    assert recorder.keys() == ["ev-11"]


def test_topics_that_do_not_concern_new_orders_are_acknowledged_but_start_nothing(
    client, recorder, announcer
):
    body = b'{"id": 5}'
    answer = post(client, "acme-shop", body, shopify(body, topic="products/update"))
    assert answer.status_code == 200 and answer.json()["recorded"] is False
    assert announcer.wait_idle(5)
    assert recorder.events == []


def woo(body: bytes, delivery: str, topic: str = "order.created", secret: str = SECRET):
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://acme.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-ID": "3",
        "X-WC-Webhook-Delivery-ID": delivery,
    }


def topics(recorder: Recorder) -> list[str]:
    return sorted(topic for _, extra in recorder.events for topic in extra["topics"])


def test_woocommerce_deliveries(client, recorder, announcer):
    body = order_body()
    assert post(client, "acme-woo", body, woo(body, "d1")).status_code == 200
    assert post(client, "acme-woo", body, woo(body, "d2", "order.updated")).status_code == 200
    duplicate = post(client, "acme-woo", body, woo(body, "d1"))
    assert duplicate.status_code == 200 and duplicate.json()["duplicate"] is True
    assert post(client, "acme-woo", body, woo(body, "d3", secret="wrong")).status_code == 401
    unsigned = {k: v for k, v in woo(body, "d4").items() if k != "X-WC-Webhook-Signature"}
    assert post(client, "acme-woo", body, unsigned).status_code == 401
    # WooCommerce's unsigned ping when a webhook is saved: acknowledged, starts nothing.
    ping = client.post(
        "/webhooks/acme-woo",
        content=b"webhook_id=3",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping.status_code == 200 and ping.json()["recorded"] is False
    assert announcer.wait_idle(5)
    assert topics(recorder) == ["order.created", "order.updated"]


def test_woocommerce_orders_of_one_second_share_a_delivery_id_and_each_counts(
    client, recorder, announcer
):
    # WooCommerce's delivery id is wp_hash(webhook id . the second): a burst shares it.
    answers = [
        post(client, "acme-woo", order_body(n), woo(order_body(n), "same-second"))
        for n in (3001, 3002, 3003)
    ]
    assert [a.json()["recorded"] for a in answers] == [True, True, True]
    assert announcer.wait_idle(5)
    assert sum(extra["deliveries"] for _, extra in recorder.events) == 3


def bigcommerce(scope: str, order_id: int, digest: str) -> bytes:
    return json.dumps(
        {
            "store_id": "1025646",
            "producer": "stores/abc123",
            "scope": scope,
            "data": {"type": "order", "id": order_id},
            "hash": digest,
            "created_at": 1735689600,
        }
    ).encode()


def test_bigcommerce_deliveries_carry_the_custom_header_secret(client, recorder, announcer):
    body = bigcommerce("store/order/created", 250, "3f9ea420af83450d7ef9f78b08c8af25b2213637")
    good = {"Content-Type": "application/json", "X-DropStream-Webhook-Token": SECRET}
    assert post(client, "acme-bc", body, good).status_code == 200
    same = post(client, "acme-bc", body, good)  # same event, same hash: BigCommerce's duplicate
    assert same.status_code == 200 and same.json()["duplicate"] is True
    wrong = {**good, "X-DropStream-Webhook-Token": "guess"}
    assert post(client, "acme-bc", body, wrong).status_code == 401
    assert post(client, "acme-bc", body, {"Content-Type": "application/json"}).status_code == 401
    assert post(client, "acme-bc", b"not json", good).status_code == 400
    status = bigcommerce("store/order/statusUpdated", 250, "a" * 40)
    assert post(client, "acme-bc", status, good).status_code == 200
    assert announcer.wait_idle(5)
    assert topics(recorder) == ["store/order/created", "store/order/statusUpdated"]


def test_a_burst_of_100_deliveries_is_answered_fast_and_coalesced(
    client, recorder, announcer, ledger
):
    recorder.delay = 0.3  # a REST call to the api-server under load
    recorder.gate.clear()  # ... that does not answer at all until every delivery is answered
    bodies = [order_body(2000 + i) for i in range(100)]

    def deliver(i: int) -> tuple[int, float, float]:
        started = time.monotonic()
        answer = post(client, "acme-shop", bodies[i], shopify(bodies[i], event=f"burst-{i}"))
        return answer.status_code, started, time.monotonic() - started

    with ThreadPoolExecutor(25) as pool:
        results = list(pool.map(deliver, range(100)))
    assert {code for code, _, _ in results} == {200}
    # Every delivery was answered while no asset event could be recorded: the answer never
    # waits for Airflow. (Answer times are bench/latency.py's figure, not asserted here.)
    assert recorder.events == []
    recorder.gate.set()
    assert announcer.wait_idle(10)
    # Every delivery is in the ledger once, and covered by an event: a few, not 100.
    from sqlalchemy import func, select

    from dropstream.ledger.schema import webhook_deliveries as table

    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 100
    assert sum(extra["deliveries"] for _, extra in recorder.events) == 100
    assert 1 <= len(recorder.events) <= 10, len(recorder.events)


def test_a_delivery_during_a_recording_gets_an_event_after_it():
    """The coalescing must not swallow a delivery that arrives while an event is recorded:
    the event in flight may have been read before its order existed."""
    entered, release = threading.Event(), threading.Event()
    recorded: list[tuple[float, list[str]]] = []

    def record(connection: str, extra: dict[str, Any]) -> None:
        if not recorded:
            entered.set()
            assert release.wait(5)
        recorded.append((time.monotonic(), extra["delivery_ids"]))

    announcer = Announcer(record)
    announcer.announce("acme", "shopify", "orders/create", "a")
    assert entered.wait(5)  # the event for "a" is being recorded
    announced_b = time.monotonic()
    announcer.announce("acme", "shopify", "orders/create", "b")
    announcer.announce("acme", "shopify", "orders/create", "c")
    release.set()
    assert announcer.wait_idle(5)
    assert [ids for _, ids in recorded] == [["a"], ["b", "c"]]
    assert recorded[1][0] > announced_b


def test_other_plugin_routes_still_need_an_airflow_login(client):
    # The receiver is the only unauthenticated route besides the health probe.
    assert client.get("/api/connections").status_code in (401, 403)


def test_an_unmigrated_ledger_is_a_503_the_store_retries(recorder, announcer, tmp_path):
    from dropstream.ledger import Ledger

    unmigrated = Ledger(f"sqlite:///{tmp_path / 'empty.db'}")
    receipts = Receipts(unmigrated)
    body = order_body()
    with TestClient(plugin_app(receipts, announcer)) as client:
        answer = post(client, "acme-shop", body, shopify(body))
    receipts.close()
    unmigrated.close()
    assert answer.status_code == 503 and "ledger" in answer.json()["detail"]
    assert announcer.wait_idle(5)
    assert recorder.events == []

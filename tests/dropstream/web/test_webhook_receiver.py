"""The webhook receiver as a store reaches it: signed and unsigned deliveries over HTTP.

The app is the plugin's own (``create_app``), the replay store is a real migrated ledger; only
the registry lookup and the asset-event recorder are swapped for in-memory ones (the real ones
run against a real api-server and scheduler in tests/dags/test_webhooks_real_scheduler.py).
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
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dropstream.web import webhooks
from dropstream.web.app import create_app
from dropstream.webhooks import MAX_BODY

SECRET = "s3cret-for-tests"
TARGETS = {
    "acme-shop": webhooks.Target("acme-shop", "shopify", SECRET),
    "acme-woo": webhooks.Target("acme-woo", "woocommerce", SECRET),
    "acme-bc": webhooks.Target("acme-bc", "bigcommerce", SECRET),
}
BUYER = "ada.buyer@example.com"  # in every body: it must never reach a log line


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        self._lock = threading.Lock()

    def __call__(self, connection: str, extra: dict[str, Any]) -> None:
        if self.fail:
            raise webhooks.RecordFailed("Airflow API unreachable (test)")
        with self._lock:
            self.events.append((connection, extra))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(ledger, recorder):
    app = create_app()
    app.dependency_overrides[webhooks.targets] = lambda: TARGETS.get
    app.dependency_overrides[webhooks.recorder] = lambda: recorder
    app.dependency_overrides[webhooks.deliveries] = lambda: ledger
    with TestClient(app) as client:
        yield client


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


def test_a_signed_shopify_order_webhook_records_one_asset_event(client, recorder, caplog):
    caplog.set_level(logging.DEBUG)
    body = order_body()
    started = time.monotonic()
    answer = post(client, "acme-shop", body, shopify(body, event="ev-1"))
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 1.0
    assert answer.json() == {"connection": "acme-shop", "recorded": True}
    assert recorder.events == [
        ("acme-shop", {"topic": "orders/create", "delivery_id": "ev-1", "platform": "shopify"})
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
    client, recorder, caplog, name, connection, tamper, code
):
    body = order_body()
    if isinstance(tamper, str):
        headers = shopify(body, **{"X-Shopify-Hmac-Sha256": sign(body, tamper)})
    else:
        headers = shopify(body, **tamper)
    answer = post(client, connection, body, {k: v for k, v in headers.items() if v is not None})
    assert answer.status_code == code, (name, answer.text)
    assert recorder.events == []
    assert BUYER not in caplog.text


def test_an_oversized_body_is_refused_unread(client, recorder):
    body = b"x" * (MAX_BODY + 1)
    answer = post(client, "acme-shop", body, shopify(body))
    assert answer.status_code == 413
    # No Content-Length (chunked): refused as soon as the stream passes the limit.
    chunks = iter([b"x" * 65536] * (MAX_BODY // 65536 + 2))
    headers = shopify(b"")
    answer = client.post("/webhooks/acme-shop", content=chunks, headers=headers)
    assert answer.status_code == 413
    assert recorder.events == []


def test_a_body_of_exactly_the_limit_is_read(client, recorder):
    body = b" " * (MAX_BODY - 2) + b"{}"
    assert post(client, "acme-shop", body, shopify(body)).status_code == 200
    assert len(recorder.events) == 1


def test_a_replayed_event_id_is_refused_and_recorded_once(client, recorder):
    body = order_body()
    assert post(client, "acme-shop", body, shopify(body, event="ev-7")).status_code == 200
    again = post(client, "acme-shop", body, shopify(body, event="ev-7"))
    assert again.status_code == 409
    assert len(recorder.events) == 1
    # A new event of the same store is let in.
    assert post(client, "acme-shop", body, shopify(body, event="ev-8")).status_code == 200
    assert len(recorder.events) == 2


def test_a_replay_is_let_in_again_after_a_day(client, recorder, ledger):
    from datetime import UTC, datetime, timedelta

    ledger.remember_delivery(
        "acme-shop", "ev-old", datetime.now(UTC) - timedelta(days=1, minutes=1)
    )
    body = order_body()
    assert post(client, "acme-shop", body, shopify(body, event="ev-old")).status_code == 200


def test_a_delivery_that_could_not_be_recorded_is_taken_on_the_store_s_retry(client, recorder):
    body = order_body()
    recorder.fail = True
    first = post(client, "acme-shop", body, shopify(body, event="ev-9"))
    assert first.status_code == 503
    recorder.fail = False
    retry = post(client, "acme-shop", body, shopify(body, event="ev-9"))
    assert retry.status_code == 200
    assert len(recorder.events) == 1


def test_topics_that_do_not_concern_new_orders_are_acknowledged_but_start_nothing(client, recorder):
    body = b'{"id": 5}'
    answer = post(client, "acme-shop", body, shopify(body, topic="products/update"))
    assert answer.status_code == 200 and answer.json()["recorded"] is False
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


def test_woocommerce_deliveries(client, recorder):
    body = order_body()
    assert post(client, "acme-woo", body, woo(body, "d1")).status_code == 200
    assert post(client, "acme-woo", body, woo(body, "d2", "order.updated")).status_code == 200
    assert post(client, "acme-woo", body, woo(body, "d1")).status_code == 409
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
    assert [extra["topic"] for _, extra in recorder.events] == ["order.created", "order.updated"]


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


def test_bigcommerce_deliveries_carry_the_custom_header_secret(client, recorder):
    body = bigcommerce("store/order/created", 250, "3f9ea420af83450d7ef9f78b08c8af25b2213637")
    good = {"Content-Type": "application/json", "X-DropStream-Webhook-Token": SECRET}
    assert post(client, "acme-bc", body, good).status_code == 200
    assert post(client, "acme-bc", body, good).status_code == 409  # same event, same hash
    wrong = {**good, "X-DropStream-Webhook-Token": "guess"}
    assert post(client, "acme-bc", body, wrong).status_code == 401
    assert post(client, "acme-bc", body, {"Content-Type": "application/json"}).status_code == 401
    assert post(client, "acme-bc", b"not json", good).status_code == 400
    status = bigcommerce("store/order/statusUpdated", 250, "a" * 40)
    assert post(client, "acme-bc", status, good).status_code == 200
    assert [extra["topic"] for _, extra in recorder.events] == [
        "store/order/created",
        "store/order/statusUpdated",
    ]


def test_a_burst_of_100_deliveries_in_a_second_is_answered_fast(client, recorder):
    bodies = [order_body(2000 + i) for i in range(100)]

    def deliver(i: int) -> tuple[int, float]:
        started = time.monotonic()
        answer = post(client, "acme-shop", bodies[i], shopify(bodies[i], event=f"burst-{i}"))
        return answer.status_code, time.monotonic() - started

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(deliver, range(100)))
    assert {code for code, _ in results} == {200}
    assert max(took for _, took in results) < 1.0
    assert sorted(e["delivery_id"] for _, e in recorder.events) == sorted(
        f"burst-{i}" for i in range(100)
    )


def test_other_plugin_routes_still_need_an_airflow_login(client):
    # The receiver is the only unauthenticated route besides the health probe.
    assert client.get("/api/connections").status_code in (401, 403)


def test_an_unmigrated_ledger_is_a_503_the_store_retries(recorder, tmp_path):
    from dropstream.ledger import Ledger

    unmigrated = Ledger(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app()
    app.dependency_overrides[webhooks.targets] = lambda: TARGETS.get
    app.dependency_overrides[webhooks.recorder] = lambda: recorder
    app.dependency_overrides[webhooks.deliveries] = lambda: unmigrated
    body = order_body()
    with TestClient(app) as client:
        answer = post(client, "acme-shop", body, shopify(body))
    unmigrated.close()
    assert answer.status_code == 503 and "ledger" in answer.json()["detail"]
    assert recorder.events == []

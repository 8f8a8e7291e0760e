"""The emulated stores' webhooks, driven by the product's own code: setup's registration
(``dropstream.setup.webhooks``) against each strict emulator, then the emulator's signed
deliveries checked by the receiver's ``dropstream.webhooks.verify``, failures retried (or not)
the way each platform does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dropstream.errors import ConfigurationError
from dropstream.sandbox.http import LoopbackServer
from dropstream.sandbox.platforms.bigcommerce import BigCommerceEmulator
from dropstream.sandbox.platforms.woocommerce import WooCommerceEmulator
from dropstream.sandbox.shopify import ShopifyEmulator
from dropstream.setup.webhooks import StoreAccess, register, remove
from dropstream.webhooks import Delivery, WebhookRejected, verify
from tests.servers._emulator import running


class Receiver:
    """Checks every delivery with the product's verify; answers ``statuses`` in turn, then 200."""

    def __init__(self, platform: str, secret: str) -> None:
        self.platform, self.secret = platform, secret
        self.statuses: list[int] = []
        self.deliveries: list[Delivery] = []
        self.bodies: list[bytes] = []  # of the accepted deliveries, in order
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self.server = LoopbackServer(self.handle)

    def handle(self, method: str, path: str, _query: Any, headers: Any, body: bytes):
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            delivery = verify(self.platform, self.secret, lowered, body)
        except WebhookRejected as exc:
            self.rejected.append(exc.reason)
            return exc.status, {"detail": exc.reason}, {}
        with self._lock:
            self.deliveries.append(delivery)
            self.bodies.append(body)
            status = self.statuses.pop(0) if self.statuses else 200
        return status, {}, {}

    @property
    def url(self) -> str:
        return f"{self.server.url}/dropstream/webhooks/acme"


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    started: list[Receiver] = []

    def make(platform: str, secret: str) -> Receiver:
        receiver = Receiver(platform, secret)
        receiver.server.start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.server.stop()


def test_shopify_subscriptions_signed_deliveries_and_retries(receiver_factory):
    with running(ShopifyEmulator(webhook_time_scale=0.001, allow_http_webhooks=True)) as shop:
        access = StoreAccess("shopify", shop.url, password=shop.token)
        secret = shop.webhooks.client_secret  # Shopify signs with the app's API secret key
        receiver = receiver_factory("shopify", secret)
        ids = register(access, receiver.url, secret)
        assert len(ids) == 3 and all(
            i.startswith("gid://shopify/WebhookSubscription/") for i in ids
        )
        with pytest.raises(ConfigurationError, match="already been taken"):
            register(access, receiver.url, secret)  # the same address again: Shopify refuses
        assert len(shop.webhooks.sender.subscriptions) == 3  # and nothing half-made is left

        receiver.statuses = [500, 409]  # any answer but a 2xx is a failure Shopify retries
        shop.add_order(updated_at=datetime.now(UTC))
        assert shop.webhooks.sender.wait_idle(10)
        attempts = shop.webhooks.sender.attempts
        assert [(a.number, a.status) for a in attempts] == [(1, 500), (2, 409), (3, 200)]
        # Every try carried a valid signature and the same event id: a replay to the receiver.
        assert len({d.delivery_id for d in receiver.deliveries}) == 1
        assert {d.topic for d in receiver.deliveries} == {"orders/create"}
        assert receiver.rejected == []

        assert sorted(remove(access, ids)) == sorted(ids)
        assert shop.webhooks.sender.subscriptions == {}
        shop.add_order(updated_at=datetime.now(UTC))
        assert shop.webhooks.sender.wait_idle(10)
        assert len(receiver.deliveries) == 3  # nothing more after removal


def test_shopify_refuses_plain_http_addresses_as_shopify_does(receiver_factory):
    with running(ShopifyEmulator()) as shop:
        access = StoreAccess("shopify", shop.url, password=shop.token)
        with pytest.raises(ConfigurationError, match="public HTTPS"):
            register(access, "http://10.0.0.5:8080/dropstream/webhooks/acme", "k")
        assert shop.webhooks.sender.subscriptions == {}


def test_shopify_removes_a_subscription_whose_retries_ran_out(receiver_factory):
    with running(ShopifyEmulator(webhook_time_scale=0.0001, allow_http_webhooks=True)) as shop:
        secret = shop.webhooks.client_secret
        receiver = receiver_factory("shopify", secret)
        register(StoreAccess("shopify", shop.url, password=shop.token), receiver.url, secret)
        receiver.statuses = [500] * 9
        shop.add_order(updated_at=datetime.now(UTC))
        assert shop.webhooks.sender.wait_idle(20)
        assert len(shop.webhooks.sender.attempts) == 9  # the first try and 8 retries
        assert "orders/create" not in {s.topic for s in shop.webhooks.sender.subscriptions.values()}


def test_woocommerce_webhooks_are_signed_per_webhook_and_disabled_after_5_failures(
    receiver_factory,
):
    with running(WooCommerceEmulator()) as site:
        access = StoreAccess("woocommerce", site.url, login=site.key, password=site.secret)
        receiver = receiver_factory("woocommerce", "generated-secret-1")
        ids = register(access, receiver.url, "generated-secret-1")
        assert len(ids) == 2
        site.add_order(modified_at=datetime.now(UTC))
        assert site.webhooks.sender.wait_idle(10)
        assert [d.topic for d in receiver.deliveries] == ["order.created"]

        # WooCommerce's delivery id is wp_hash(webhook id . the second): a burst shares it,
        # the receiver's key (id and body digest) still tells the orders apart.
        for _ in range(3):
            site.add_order(modified_at=datetime.now(UTC))
        assert site.webhooks.sender.wait_idle(10)
        burst = receiver.deliveries[1:]
        assert len({d.delivery_id.split(":")[0] for d in burst}) <= 2  # a second may turn
        assert len({d.delivery_id for d in burst}) == 3

        receiver.statuses = [500] * 5  # WooCommerce does not retry; five failures disable it
        for _ in range(5):
            site.add_order(modified_at=datetime.now(UTC))
            assert site.webhooks.sender.wait_idle(10)
        created = next(
            s for s in site.webhooks.sender.subscriptions.values() if s.topic == "order.created"
        )
        assert site.webhooks.statuses[created.id] == "disabled"
        site.add_order(modified_at=datetime.now(UTC))
        assert site.webhooks.sender.wait_idle(10)
        assert len(receiver.deliveries) == 9  # 1 + 3 + the 5 that failed; nothing after
        assert sorted(remove(access, ids)) == sorted(ids)
        assert site.webhooks.sender.subscriptions == {}


def test_woocommerce_refuses_a_bad_topic_and_needs_force_to_delete(receiver_factory):
    import requests

    with running(WooCommerceEmulator()) as site:
        auth = (site.key, site.secret)
        url = f"{site.url}/wp-json/wc/v3/webhooks"
        bad = requests.post(
            url, json={"topic": "order.exploded", "delivery_url": "https://x"}, auth=auth
        )
        assert (
            bad.status_code == 400
            and bad.json()["code"] == "woocommerce_rest_webhook_invalid_topic"
        )
        made = requests.post(
            url, json={"topic": "order.created", "delivery_url": "https://x"}, auth=auth
        )
        assert made.status_code == 201 and made.json()["secret"]  # generated when not given
        trash = requests.delete(f"{url}/{made.json()['id']}", auth=auth)
        assert trash.status_code == 501


def test_bigcommerce_hooks_carry_the_secret_header_and_are_retried(receiver_factory):
    with running(BigCommerceEmulator(webhook_time_scale=0.001, allow_http_webhooks=True)) as store:
        access = StoreAccess("bigcommerce", store.host, password=store.token)
        receiver = receiver_factory("bigcommerce", "bc-secret")
        ids = register(access, receiver.url, "bc-secret")
        assert len(ids) == 2
        receiver.statuses = [502]
        store.add_order(modified_at=datetime.now(UTC))
        assert store.hooks.sender.wait_idle(10)
        assert [(a.number, a.status) for a in store.hooks.sender.attempts] == [(1, 502), (2, 200)]
        assert len({d.delivery_id for d in receiver.deliveries}) == 1  # same payload hash
        assert sorted(remove(access, ids)) == sorted(ids)


def test_bigcommerce_refuses_destinations_off_https_443():
    with running(BigCommerceEmulator()) as store:
        access = StoreAccess("bigcommerce", store.host, password=store.token)
        with pytest.raises(ConfigurationError, match="HTTP 422"):
            register(access, "https://dropstream.example:8443/dropstream/webhooks/acme", "s")
        assert store.hooks.sender.subscriptions == {}


def test_cancelling_an_order_sends_each_platform_s_cancel_webhook(receiver_factory):
    """A cancellation (main's cancel paths) reaches the receiver as the topic each platform
    sends for it, signed like the others: Shopify orders/cancelled (the orderCancel mutation and
    the admin's cancel), WooCommerce order.updated, BigCommerce store/order/statusUpdated."""
    import json

    import requests

    now = datetime.now(UTC)
    with running(ShopifyEmulator(webhook_time_scale=0.001, allow_http_webhooks=True)) as shop:
        secret = shop.webhooks.client_secret
        receiver = receiver_factory("shopify", secret)
        register(StoreAccess("shopify", shop.url, password=shop.token), receiver.url, secret)
        by_mutation, by_admin = shop.add_order(updated_at=now), shop.add_order(updated_at=now)
        mutation = (
            "mutation C($id: ID!) { orderCancel(orderId: $id, reason: FRAUD, refund: true, "
            "restock: true) { job { id } orderCancelUserErrors { message } } }"
        )
        answer = requests.post(
            shop.url + "/admin/api/2026-10/graphql.json",
            headers={"X-Shopify-Access-Token": shop.token},
            json={"query": mutation, "variables": {"id": by_mutation}},
            timeout=10,
        ).json()
        assert answer["data"]["orderCancel"]["orderCancelUserErrors"] == []
        shop.cancel_order(by_admin, reason="CUSTOMER")
        assert shop.webhooks.sender.wait_idle(10)
        # The sender delivers from several threads, as the platforms do (Shopify: "webhooks
        # aren't guaranteed to be delivered in order"), so arrival order is not asserted.
        assert sorted(d.topic for d in receiver.deliveries) == [
            "orders/cancelled",
            "orders/cancelled",
            "orders/create",
            "orders/create",
        ]
        assert all(d.starts_orders for d in receiver.deliveries) and receiver.rejected == []
        cancels = [
            json.loads(body)
            for d, body in zip(receiver.deliveries, receiver.bodies, strict=True)
            if d.topic == "orders/cancelled"
        ]
        assert sorted((c["admin_graphql_api_id"], c["cancel_reason"]) for c in cancels) == sorted(
            [(by_mutation, "fraud"), (by_admin, "customer")]
        )
        assert all(c["cancelled_at"] for c in cancels)

    with running(WooCommerceEmulator()) as site:
        receiver = receiver_factory("woocommerce", "woo-secret")
        access = StoreAccess("woocommerce", site.url, login=site.key, password=site.secret)
        register(access, receiver.url, "woo-secret")
        order = site.add_order(modified_at=now)
        site.cancel_order(order, at=now)
        assert site.webhooks.sender.wait_idle(10)
        assert sorted(d.topic for d in receiver.deliveries) == ["order.created", "order.updated"]
        assert all(d.starts_orders for d in receiver.deliveries) and receiver.rejected == []

    with running(BigCommerceEmulator(webhook_time_scale=0.001, allow_http_webhooks=True)) as store:
        receiver = receiver_factory("bigcommerce", "bc-secret")
        register(
            StoreAccess("bigcommerce", store.host, password=store.token), receiver.url, "bc-secret"
        )
        order = store.add_order(modified_at=now)
        store.cancel_order(order, at=now)
        assert store.hooks.sender.wait_idle(10)
        assert sorted(d.topic for d in receiver.deliveries) == [
            "store/order/created",
            "store/order/statusUpdated",
        ]
        assert all(d.starts_orders for d in receiver.deliveries) and receiver.rejected == []
        (updated,) = [
            json.loads(body)
            for d, body in zip(receiver.deliveries, receiver.bodies, strict=True)
            if d.topic == "store/order/statusUpdated"
        ]
        assert updated["data"] == {
            "type": "order",
            "id": order,
            "status": {"previous_status_id": 11, "new_status_id": 5},
        }

"""Setup's side of webhooks: the form switch, and ``setup.webhooks.sync`` against the strict
store emulators (subscriptions made, kept in the Connection's extra, removed again)."""

from __future__ import annotations

import pytest

from dropstream.errors import ConfigurationError
from dropstream.sandbox.platforms.woocommerce import WooCommerceEmulator
from dropstream.sandbox.shopify import ShopifyEmulator
from dropstream.setup.validate import FormError, plan_setup
from dropstream.setup.webhooks import sync
from tests.servers._emulator import running
from tests.setup.test_setup_targets import NOW, blank_form

API = "https://airflow.acme.example"


def test_the_form_switch_lands_in_the_registry_entry():
    plan = plan_setup(
        blank_form(store_platform="shopify", webhooks_enabled=True),
        {},
        {"warehouse_password", "store_access_token", "store_webhook_secret"},
        NOW,
    )
    assert plan.spec["webhooks"] == {"enabled": True}
    plan = plan_setup(blank_form(), {}, {"warehouse_password", "store_access_token"}, NOW)
    assert not (plan.spec.get("webhooks") or {}).get("enabled")  # off unless asked for


def test_platforms_without_webhooks_are_refused_by_the_form():
    form = blank_form(
        store_platform="ebay",
        store_login="id",
        webhooks_enabled=True,
        store_url="https://api.ebay.com",
    )
    with pytest.raises(FormError) as caught:
        plan_setup(
            form, {}, {"warehouse_password", "store_client_secret", "store_refresh_token"}, NOW
        )
    assert any("cannot send webhooks" in p for p in caught.value.problems), caught.value.problems


def test_enabling_generates_a_secret_registers_and_disabling_removes():
    with running(WooCommerceEmulator()) as site:
        store = {"host": site.url, "login": site.key, "password": site.secret, "extra": {}}
        extra, line = sync("acme", "woocommerce", store, True, API)
        assert extra is not None and len(extra["webhook_secret"]) >= 40
        assert len(extra["webhook_subscriptions"]) == 2
        assert f"{API}/dropstream/webhooks/acme" in line
        hooks = list(site.webhooks.sender.subscriptions.values())
        assert {h.url for h in hooks} == {f"{API}/dropstream/webhooks/acme"}
        assert {h.secret for h in hooks} == {extra["webhook_secret"]}

        again, line = sync("acme", "woocommerce", {**store, "extra": extra}, True, API)
        assert again is None and "unchanged" in line  # an update does not subscribe twice
        assert len(site.webhooks.sender.subscriptions) == 2

        off, line = sync("acme", "woocommerce", {**store, "extra": extra}, False, API)
        assert off == {} and "2 subscriptions removed" in line
        assert site.webhooks.sender.subscriptions == {}


def test_shopify_needs_the_app_s_api_secret_key():
    with running(ShopifyEmulator()) as shop:
        store = {"host": shop.url, "password": shop.token, "extra": {"api_version": "2026-10"}}
        with pytest.raises(ConfigurationError, match="API secret key"):
            sync("acme", "shopify", store, True, API)
        store["extra"]["webhook_secret"] = shop.webhooks.client_secret
        extra, _ = sync("acme", "shopify", store, True, API)
        assert extra is not None and extra["webhook_secret"] == shop.webhooks.client_secret
        assert len(shop.webhooks.sender.subscriptions) == 3


def test_the_setup_dag_subscribes_on_add_and_unsubscribes_on_remove(wizard, caplog):
    """The person's path: the form with webhooks on, then *remove*; the store is the strict
    Shopify emulator (told to accept the api-server's plain-HTTP loopback address)."""
    import json

    shop = wizard.shop
    shop.webhooks.allow_http = True
    secret = shop.webhooks.client_secret
    form = wizard.form("wiz-hooks", webhooks_enabled=True, store_webhook_secret=secret)
    wizard.trigger(form)
    run = wizard.last_run()
    assert run["state"] == "success", run
    # A secret field: the plugin blanked it in the run's conf like the others (dag.test() writes
    # the starting conf back, so the log line is the evidence: see test_setup_dag.py).
    assert "blanked: store_access_token, store_webhook_secret, warehouse_private_key" in caplog.text
    assert wizard.registry()["wiz-hooks"]["webhooks"] == {"enabled": True}
    extra = json.loads(wizard.connection("dropstream_wiz-hooks_store")["extra"])
    subscriptions = shop.webhooks.sender.subscriptions.values()
    assert {s.url for s in subscriptions} == {f"{wizard.api.url}/dropstream/webhooks/wiz-hooks"}
    assert sorted(s.topic for s in subscriptions) == [
        "orders/cancelled",
        "orders/create",
        "orders/updated",
    ]
    assert len(extra["webhook_subscriptions"]) == 3

    blank = dict.fromkeys(
        ("warehouse_private_key", "store_access_token", "store_webhook_secret"), ""
    )
    wizard.trigger({**form, **blank, "action": "remove"})
    run = wizard.last_run()
    assert run["state"] == "success" and "removed" in run["note"], run
    assert shop.webhooks.sender.subscriptions == {}
    assert wizard.connection("dropstream_wiz-hooks_store") is None

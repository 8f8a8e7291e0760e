"""The emulated WooCommerce site's webhooks: ``/wp-json/wc/v3/webhooks`` and signed deliveries.

As WooCommerce does: a webhook has a ``topic`` (``order.created``…), a ``delivery_url`` and a
``secret`` (generated when none is given); ``DELETE`` needs ``force=true`` (webhooks cannot be
trashed: 501). A delivery carries ``X-WC-Webhook-Source``, ``-Topic``, ``-Resource``, ``-Event``,
``-Signature`` (base64 HMAC-SHA256 of the raw body keyed with the webhook's secret), ``-ID`` and
``-Delivery-ID``: ``WC_Webhook::get_new_delivery_id`` is ``wp_hash(webhook id . strtotime('now'))``
(HMAC-MD5 with the site's salt), so every delivery of one webhook within one second carries the
same id. WooCommerce does not retry a failed delivery (any answer but a 2xx): it counts
consecutive failures and, at 5 (``woocommerce_max_webhook_delivery_failures``), sets the webhook
``disabled``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from dropstream.sandbox.http import Reply
from dropstream.sandbox.webhooks import Subscription, WebhookSender, _Delivery

MAX_FAILURES = 5
TOPICS = {
    f"{resource}.{event}"
    for resource in ("order", "product", "customer", "coupon")
    for event in ("created", "updated", "deleted", "restored")
}
STATUSES = {"active", "paused", "disabled"}


def _error(status: int, code: str, message: str) -> Reply:
    return status, {"code": code, "message": message, "data": {"status": status}}, {}


def _wc_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class SiteWebhooks:
    def __init__(self, site_url: Any) -> None:
        self._site_url = site_url  # a callable: the emulator's URL is known once it is started
        self._salt = secrets.token_bytes(32)  # the site's auth salt, for wp_hash
        self.names: dict[int, str] = {}
        self.statuses: dict[int, str] = {}
        self.sender = WebhookSender(self._headers, retry_delays=(), give_up=self._failed)

    def _failed(self, sub: Subscription) -> None:
        if sub.failures >= MAX_FAILURES:
            sub.active = False
            self.statuses[sub.id] = "disabled"

    def _headers(self, sub: Subscription, delivery: _Delivery) -> dict[str, str]:
        resource, event = delivery.topic.split(".", 1)
        digest = hmac.new(sub.secret.encode(), delivery.body, hashlib.sha256).digest()
        return {
            "User-Agent": "WooCommerce/10.3.0 Hookshot (WordPress/6.9)",
            "X-WC-Webhook-Source": f"{self._site_url()}/",
            "X-WC-Webhook-Topic": delivery.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-WC-Webhook-ID": str(sub.id),
            "X-WC-Webhook-Delivery-ID": hmac.new(
                self._salt, f"{sub.id}{int(time.time())}".encode(), hashlib.md5
            ).hexdigest(),
        }

    def view(self, sub: Subscription) -> dict[str, Any]:
        resource, event = sub.topic.split(".", 1)
        return {
            "id": sub.id,
            "name": self.names.get(sub.id, ""),
            "status": self.statuses.get(sub.id, "active"),
            "topic": sub.topic,
            "resource": resource,
            "event": event,
            "hooks": [f"woocommerce_{resource}_{event}"],
            "delivery_url": sub.url,
            "secret": sub.secret,
            "date_created_gmt": _wc_time(sub.created_at),
            "date_modified_gmt": _wc_time(sub.created_at),
        }

    # --- routes (q, data, *ids) -----------------------------------------------------------
    def list(self, q: dict[str, str], data: Any) -> Reply:
        return 200, [self.view(s) for s in self.sender.subscriptions.values()], {}

    def create(self, q: dict[str, str], data: Any) -> Reply:
        data = data if isinstance(data, dict) else {}
        for key in ("topic", "delivery_url"):
            if not data.get(key):
                return _error(400, "rest_missing_callback_param", f"Missing parameter(s): {key}")
        if data["topic"] not in TOPICS:
            return _error(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
            )
        url = str(data["delivery_url"])
        if not url.startswith(("http://", "https://")):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): delivery_url")
        status = data.get("status", "active")
        if status not in STATUSES:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): status")
        secret = str(data.get("secret") or secrets.token_hex(16))
        sub = self.sender.subscribe(data["topic"], url, secret=secret)
        sub.active = status == "active"
        self.names[sub.id] = str(
            data.get("name") or f"Webhook created on {_wc_time(sub.created_at)}"
        )
        self.statuses[sub.id] = status
        return 201, self.view(sub), {}

    def get(self, q: dict[str, str], data: Any, webhook_id: int) -> Reply:
        sub = self.sender.subscriptions.get(webhook_id)
        if sub is None:
            return _error(404, "woocommerce_rest_webhook_invalid_id", "Invalid webhook ID.")
        return 200, self.view(sub), {}

    def delete(self, q: dict[str, str], data: Any, webhook_id: int) -> Reply:
        sub = self.sender.subscriptions.get(webhook_id)
        if sub is None:
            return _error(404, "woocommerce_rest_webhook_invalid_id", "Invalid webhook ID.")
        if q.get("force") not in ("true", "1"):
            return _error(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        view = self.view(sub)
        self.sender.unsubscribe(webhook_id)
        return 200, view, {}

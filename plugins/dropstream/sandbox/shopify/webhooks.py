"""The emulated shop's webhooks: ``webhookSubscriptionCreate``/``Delete`` and signed deliveries.

As Shopify does for shop-specific subscriptions made through the Admin API: the topic is a
``WebhookSubscriptionTopic`` (``ORDERS_CREATE``), the endpoint a ``uri`` that must be HTTPS
(``allow_http`` lets loopback tests use plain HTTP); one subscription per topic and URI (a
second is a userError). A delivery carries ``X-Shopify-Topic`` (``orders/create``),
``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body keyed with the app's API secret
key), ``X-Shopify-Shop-Domain``, ``X-Shopify-API-Version``, ``X-Shopify-Webhook-Id``,
``X-Shopify-Event-Id`` (the same on every retry) and ``X-Shopify-Triggered-At``. A delivery
without a 2xx within 5 s is retried 8 times over about 4 hours with exponential backoff; then
Shopify removes a subscription made through the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from dropstream.sandbox.shopify.store import Order, iso
from dropstream.sandbox.webhooks import Subscription, WebhookSender, _Delivery

#: Shopify's schedule: 8 retries, exponential, about 4 hours in all.
RETRY_DELAYS = (60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3840.0, 7680.0)
TOPICS = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "FULFILLMENTS_CREATE": "fulfillments/create",
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update",
    "PRODUCTS_UPDATE": "products/update",
    "APP_UNINSTALLED": "app/uninstalled",
}
ENUM = {topic: name for name, topic in TOPICS.items()}
SHOP_DOMAIN = "emulated.myshopify.com"


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopWebhooks:
    """Subscriptions and deliveries of one emulated shop (``ShopifyEmulator.webhooks``)."""

    def __init__(
        self,
        client_secret: str,
        api_version: Callable[[], str],
        *,
        time_scale: float = 1.0,
        allow_http: bool = False,
        workers: int = 8,
    ) -> None:
        self.client_secret = client_secret
        self.allow_http = allow_http
        self._api_version = api_version
        self.sender = WebhookSender(
            self._headers,
            retry_delays=RETRY_DELAYS,
            give_up=self._remove,
            time_scale=time_scale,
            workers=workers,
        )

    def _remove(self, sub: Subscription) -> None:
        """Out of retries: Shopify removes a subscription made through the API."""
        self.sender.unsubscribe(sub.id)

    def _headers(self, sub: Subscription, delivery: _Delivery) -> dict[str, str]:
        return {
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(delivery.body, self.client_secret),
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            "X-Shopify-API-Version": self._api_version(),
            "X-Shopify-Webhook-Id": delivery.delivery_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": iso(delivery.triggered_at),
        }

    # --- GraphQL resolvers --------------------------------------------------------------------
    def root(self) -> dict[str, Any]:
        return {
            "webhookSubscriptionCreate": self.create,
            "webhookSubscriptionDelete": self.delete,
        }

    def view(self, sub: Subscription) -> dict[str, Any]:
        return {
            "id": f"gid://shopify/WebhookSubscription/{sub.id}",
            "topic": ENUM[sub.topic],
            "uri": sub.url,
            "format": "JSON",
            "createdAt": iso(sub.created_at),
            "updatedAt": iso(sub.created_at),
            "includeFields": [],
            "filter": None,
        }

    def create(self, _info: Any, topic: str, webhookSubscription: dict[str, Any]) -> dict:  # noqa: N803 - GraphQL argument name
        uri = webhookSubscription.get("uri") or ""
        errors = []
        if not uri:
            errors.append(
                {"field": ["webhookSubscription", "uri"], "message": "Address can't be blank"}
            )
        elif not (uri.startswith("https://") or (self.allow_http and uri.startswith("http://"))):
            errors.append(
                {
                    "field": ["webhookSubscription", "uri"],
                    "message": "Address protocol http:// is not supported",
                }
            )
        if webhookSubscription.get("format", "JSON") != "JSON":
            errors.append(
                {"field": ["webhookSubscription", "format"], "message": "Format is not supported"}
            )
        name = TOPICS[topic]
        if any(s.topic == name and s.url == uri for s in self.sender.subscriptions.values()):
            errors.append(
                {
                    "field": ["webhookSubscription", "uri"],
                    "message": "Address for this topic has already been taken",
                }
            )
        if errors:
            return {"webhookSubscription": None, "userErrors": errors}
        return {
            "webhookSubscription": self.view(self.sender.subscribe(name, uri)),
            "userErrors": [],
        }

    def delete(self, _info: Any, id: str) -> dict:  # noqa: A002 - GraphQL argument name
        number = id.rsplit("/", 1)[-1]
        if not (id.startswith("gid://shopify/WebhookSubscription/") and number.isdigit()):
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Invalid global id"}],
            }
        if not self.sender.unsubscribe(int(number)):
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}

    # --- events -------------------------------------------------------------------------------
    def order_event(self, topic: str, order: Order) -> int:
        """Send ``topic`` (``orders/create`` …) for ``order`` in the REST payload shape."""
        legacy = int(order.id.rsplit("/", 1)[-1])
        payload = {
            "id": legacy,
            "admin_graphql_api_id": order.id,
            "name": f"#{order.number}",
            "order_number": order.number,
            "email": order.email,
            "created_at": iso(order.created_at),
            "updated_at": iso(order.updated_at),
            "currency": order.currency,
            "financial_status": order.financial_status.lower(),
            "cancelled_at": order.cancelled_at and iso(order.cancelled_at),
            "cancel_reason": order.cancel_reason and order.cancel_reason.lower(),
            "line_items": [
                {"sku": line.sku, "quantity": line.quantity, "price": str(line.price)}
                for line in order.lines
            ],
        }
        return self.sender.emit(topic, payload)

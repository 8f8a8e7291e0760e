"""Store webhooks: how each platform signs a delivery, and what a delivery means to DropStream.

A webhook only says "the store has news": the receiver (``dropstream.web.webhooks``) checks the
signature here, drops repeats, and has an asset event ``dropstream://<connection>/orders`` start
the connection's orders DAG. Orders are still fetched by the DAG, from the watermark, so a
forged, lost or late webhook can never put an order in a file by itself.

Per platform (docs/webhooks.md):

- Shopify signs the raw body: ``X-Shopify-Hmac-Sha256`` = base64 HMAC-SHA256 keyed with the
  app's API secret key; the event id (``X-Shopify-Event-Id``) is the same on every retry, and
  Shopify retries a delivery without a 2xx 8 times over 4 hours.
- WooCommerce signs the raw body: ``X-WC-Webhook-Signature`` = base64 HMAC-SHA256 keyed with
  the webhook's own secret. ``X-WC-Webhook-Delivery-ID`` is a hash of the webhook id and the
  *second* of sending, so every order of a burst in one second carries the same one: the
  replay key adds the body's digest. WooCommerce never retries.
- BigCommerce does not sign: a hook carries the custom headers it was created with, so the
  secret travels as ``X-DropStream-Webhook-Token`` over TLS; the payload's ``hash`` is the same
  when one event is delivered twice; it retries a delivery without a 2xx for about two days.

Every platform counts any answer but a 2xx as a failed delivery (Shopify and BigCommerce retry it
and finally drop the subscription, WooCommerce disables the webhook after 5 in a row) and
documents that it may deliver one event twice. So a *repeat* the platform itself may send (the
same key within its ``redelivery`` period) is a duplicate, answered 2xx and acted on once;
the same key later than the platform could send it is a replay, refused with 409 (``repeat``).

Pure: no Airflow, no HTTP library, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "BIGCOMMERCE_TOKEN_HEADER",
    "MAX_BODY",
    "SCHEMES",
    "SECRET_EXTRA",
    "WEBHOOK_PLATFORMS",
    "Delivery",
    "WebhookRejected",
    "asset_uri",
    "generate_secret",
    "repeat",
    "verify",
]

#: Bodies above this are refused unread (413): an order webhook is a few KiB.
MAX_BODY = 1024 * 1024
#: Where the secret lives in the store's Airflow Connection extra.
SECRET_EXTRA = "webhook_secret"
#: The subscription ids setup registered with the store, in the same extra (removed with it).
SUBSCRIPTIONS_EXTRA = "webhook_subscriptions"
BIGCOMMERCE_TOKEN_HEADER = "X-DropStream-Webhook-Token"


def asset_uri(connection: str) -> str:
    """The asset whose events start ``connection``'s orders DAG."""
    return f"dropstream://{connection}/orders"


def generate_secret() -> str:
    """A new webhook secret: 256 random bits, URL-safe (it goes into store settings as typed)."""
    return secrets.token_urlsafe(32)


class WebhookRejected(Exception):
    """The delivery is refused with HTTP ``status``; ``reason`` is safe to answer and log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Delivery:
    """An authentic delivery: its replay key, its topic, and whether it concerns new orders."""

    delivery_id: str
    topic: str
    starts_orders: bool


@dataclass(frozen=True, slots=True)
class Scheme:
    platform: str
    topics: tuple[str, ...]  # the topics setup subscribes to; they start the orders DAG
    verify: Callable[[str, Mapping[str, str], bytes], Delivery]
    #: How long after a first delivery the platform itself may send the same one again.
    redelivery: timedelta


def _hmac_b64(secret: str, body: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())


def _same(expected: bytes, given: str) -> bool:
    """Constant-time comparison; a header that is not ASCII simply does not match."""
    try:
        given_bytes = given.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, given_bytes)


def _header(headers: Mapping[str, str], name: str) -> str:
    return (headers.get(name.lower()) or "").strip()


def _signed_body(
    platform: str, signature_header: str, secret: str, headers: Mapping[str, str], body: bytes
) -> None:
    given = _header(headers, signature_header)
    if not given:
        raise WebhookRejected(401, f"missing {signature_header}: not a {platform} webhook")
    if not _same(_hmac_b64(secret, body), given):
        raise WebhookRejected(401, f"{signature_header} does not match the body")


def _needed(headers: Mapping[str, str], name: str) -> str:
    value = _header(headers, name)
    if not value:
        raise WebhookRejected(400, f"missing {name}")
    return value


def _shopify(secret: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    _signed_body("Shopify", "X-Shopify-Hmac-Sha256", secret, headers, body)
    # The event id is the same on every retry and every duplicate; older deliveries only have
    # the webhook id.
    event = _header(headers, "X-Shopify-Event-Id") or _needed(headers, "X-Shopify-Webhook-Id")
    topic = _needed(headers, "X-Shopify-Topic")
    return Delivery(event, topic, topic in SHOPIFY_TOPICS)


def _woocommerce(secret: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    if not _header(headers, "X-WC-Webhook-Signature") and WOOCOMMERCE_PING.fullmatch(body):
        # WooCommerce pings a new webhook's URL once, unsigned; answering 2xx lets it be saved.
        return Delivery("", "ping", starts_orders=False)
    _signed_body("WooCommerce", "X-WC-Webhook-Signature", secret, headers, body)
    # One delivery id per webhook per second: the body tells the orders of one second apart.
    delivery = _needed(headers, "X-WC-Webhook-Delivery-ID")
    digest = hashlib.sha256(body).hexdigest()[:32]
    topic = _needed(headers, "X-WC-Webhook-Topic")
    return Delivery(f"{delivery}:{digest}", topic, topic in WOOCOMMERCE_TOPICS)


def _bigcommerce(secret: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    given = _header(headers, BIGCOMMERCE_TOKEN_HEADER)
    if not given:
        raise WebhookRejected(
            401, f"missing {BIGCOMMERCE_TOKEN_HEADER}: not a hook DropStream registered"
        )
    if not _same(secret.encode(), given):
        raise WebhookRejected(401, f"{BIGCOMMERCE_TOKEN_HEADER} is not this connection's secret")
    # Authenticated: only now is the body parsed (BigCommerce puts the scope and hash there).
    try:
        payload = json.loads(body)
        scope, digest = str(payload["scope"]), str(payload["hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookRejected(400, "the body is not a BigCommerce webhook payload") from exc
    return Delivery(f"{scope}:{digest}", scope, scope in BIGCOMMERCE_TOPICS)


SHOPIFY_TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
WOOCOMMERCE_TOPICS = ("order.created", "order.updated")
WOOCOMMERCE_PING = re.compile(rb"webhook_id=[0-9]{1,20}")
BIGCOMMERCE_TOPICS = ("store/order/created", "store/order/statusUpdated")

SCHEMES: dict[str, Scheme] = {
    # 8 retries over 4 hours (an hour's margin for the first try's own delay).
    "shopify": Scheme("shopify", SHOPIFY_TOPICS, _shopify, timedelta(hours=5)),
    # No retries; the same key only within its second (a minute covers clock skew).
    "woocommerce": Scheme("woocommerce", WOOCOMMERCE_TOPICS, _woocommerce, timedelta(minutes=1)),
    # Retries for about 48 hours.
    "bigcommerce": Scheme("bigcommerce", BIGCOMMERCE_TOPICS, _bigcommerce, timedelta(hours=49)),
}


def verify(platform: str, secret: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    """Check one delivery's authenticity (before anything parses it); raise WebhookRejected.

    ``headers`` must be keyed in lower case (as ASGI gives them).
    """
    scheme = SCHEMES.get(platform)
    if scheme is None:
        raise WebhookRejected(404, f"{platform} stores cannot send webhooks to DropStream")
    if not secret:
        raise WebhookRejected(404, "webhooks are not set up for this connection")
    return scheme.verify(secret, headers, body)


def repeat(platform: str, first_received: datetime, now: datetime) -> WebhookRejected | None:
    """A delivery whose key was first received at ``first_received``: None for a duplicate the
    platform itself may send (answer 2xx, act on nothing), else the 409 for a replay."""
    if now - first_received <= SCHEMES[platform].redelivery:
        return None
    return WebhookRejected(
        409,
        f"replayed delivery: first received {first_received:%Y-%m-%d %H:%M:%S} UTC, later than "
        f"{platform} re-sends one",
    )


#: The store platforms whose webhooks DropStream receives.
WEBHOOK_PLATFORMS = frozenset(SCHEMES)

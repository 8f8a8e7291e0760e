"""Register (and remove) a connection's webhook subscriptions with its store, through the store's
own API, as the setup DAG does (docs/webhooks.md).

- Shopify: GraphQL ``webhookSubscriptionCreate`` per topic (``ORDERS_CREATE``, ``ORDERS_UPDATED``,
  ``ORDERS_CANCELLED``); Shopify signs with the app's API secret key, so that key is the secret.
- WooCommerce: ``POST /wp-json/wc/v3/webhooks`` per topic with a generated ``secret``.
- BigCommerce: ``POST /v3/hooks`` per scope with the generated secret as the custom header
  ``X-DropStream-Webhook-Token`` (BigCommerce signs nothing).

``register`` returns the subscription ids, which setup keeps in the store Connection's extra
(``webhook_subscriptions``) so that removing the connection removes them. Errors name the
store, the topic and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from dropstream.errors import ConfigurationError, TransientError
from dropstream.webhooks import (
    BIGCOMMERCE_TOKEN_HEADER,
    BIGCOMMERCE_TOPICS,
    SECRET_EXTRA,
    SHOPIFY_TOPICS,
    SUBSCRIPTIONS_EXTRA,
    WOOCOMMERCE_TOPICS,
    generate_secret,
)

TIMEOUT = 30
SHOPIFY_ENUMS = {
    "orders/create": "ORDERS_CREATE",
    "orders/updated": "ORDERS_UPDATED",
    "orders/cancelled": "ORDERS_CANCELLED",
}
SHOPIFY_CREATE = """
mutation DropStreamWebhook($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}"""
SHOPIFY_DELETE = """
mutation DropStreamWebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""


@dataclass(frozen=True)
class StoreAccess:
    """What setup knows of the store: its platform and the fields of its Airflow Connection."""

    platform: str
    host: str
    login: str = ""
    password: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def receiver_url(api_server_url: str, connection: str) -> str:
    """Where the store must send the connection's webhooks (behind the api-server)."""
    return f"{api_server_url.rstrip('/')}/dropstream/webhooks/{quote(connection)}"


def _call(method: str, url: str, what: str, **kwargs: Any) -> Any:
    try:
        answer = requests.request(method, url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        raise TransientError(f"{what}: the store did not answer ({exc})") from exc
    if answer.status_code >= 500 or answer.status_code == 429:
        raise TransientError(f"{what}: the store answered HTTP {answer.status_code}; try again")
    if answer.status_code >= 400:
        raise ConfigurationError(
            f"{what}: the store refused (HTTP {answer.status_code}: {answer.text[:300]})"
        )
    return answer.json() if answer.content else None


# --- Shopify ------------------------------------------------------------------------------------
def _shopify(access: StoreAccess, query: str, variables: dict[str, Any], what: str) -> Any:
    version = access.extra.get("api_version") or "2026-10"
    url = f"{access.host.rstrip('/')}/admin/api/{version}/graphql.json"
    headers = {"X-Shopify-Access-Token": access.password, "Content-Type": "application/json"}
    body = _call("POST", url, what, json={"query": query, "variables": variables}, headers=headers)
    if body.get("errors"):
        raise ConfigurationError(f"{what}: Shopify answered {body['errors']}")
    return body["data"]


def _shopify_register(access: StoreAccess, url: str, secret: str, ids: list[str]) -> None:
    for topic in SHOPIFY_TOPICS:
        what = f"Shopify store {access.host}, webhook {topic}"
        variables = {"topic": SHOPIFY_ENUMS[topic], "sub": {"uri": url, "format": "JSON"}}
        made = _shopify(access, SHOPIFY_CREATE, variables, what)["webhookSubscriptionCreate"]
        if made["userErrors"]:
            problems = "; ".join(e["message"] for e in made["userErrors"])
            raise ConfigurationError(
                f"{what}: {problems}. Shopify delivers only to public HTTPS addresses: set "
                f"Airflow's [api] base_url to the api-server's public https URL (now {url})"
            )
        ids.append(made["webhookSubscription"]["id"])


def _shopify_remove(access: StoreAccess, ids: list[str]) -> list[str]:
    removed = []
    for sub_id in ids:
        what = f"Shopify store {access.host}, removing webhook {sub_id}"
        done = _shopify(access, SHOPIFY_DELETE, {"id": sub_id}, what)["webhookSubscriptionDelete"]
        if done["deletedWebhookSubscriptionId"]:
            removed.append(sub_id)
    return removed


# --- WooCommerce --------------------------------------------------------------------------------
def _woo_url(access: StoreAccess, path: str) -> str:
    return f"{access.host.rstrip('/')}/wp-json/wc/v3{path}"


def _woo_register(access: StoreAccess, url: str, secret: str, ids: list[str]) -> None:
    for topic in WOOCOMMERCE_TOPICS:
        body = {"name": f"DropStream {topic}", "status": "active", "topic": topic}
        made = _call(
            "POST",
            _woo_url(access, "/webhooks"),
            f"WooCommerce site {access.host}, webhook {topic}",
            json={**body, "delivery_url": url, "secret": secret},
            auth=(access.login, access.password),
        )
        ids.append(str(made["id"]))


def _woo_remove(access: StoreAccess, ids: list[str]) -> list[str]:
    removed = []
    for sub_id in ids:
        what = f"WooCommerce site {access.host}, removing webhook {sub_id}"
        try:
            _call(
                "DELETE",
                _woo_url(access, f"/webhooks/{quote(sub_id)}"),
                what,
                params={"force": "true"},
                auth=(access.login, access.password),
            )
        except ConfigurationError as exc:
            if "HTTP 404" not in str(exc):  # already gone is what we want
                raise
        removed.append(sub_id)
    return removed


# --- BigCommerce --------------------------------------------------------------------------------
def _bc_headers(access: StoreAccess) -> dict[str, str]:
    return {
        "X-Auth-Token": access.password,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


def _bc_register(access: StoreAccess, url: str, secret: str, ids: list[str]) -> None:
    for scope in BIGCOMMERCE_TOPICS:
        body = {
            "scope": scope,
            "destination": url,
            "is_active": True,
            "headers": {BIGCOMMERCE_TOKEN_HEADER: secret},
        }
        what = f"BigCommerce store {access.host}, hook {scope}"
        made = _call(
            "POST",
            f"{access.host.rstrip('/')}/v3/hooks",
            what,
            json=body,
            headers=_bc_headers(access),
        )
        ids.append(str(made["data"]["id"]))


def _bc_remove(access: StoreAccess, ids: list[str]) -> list[str]:
    removed = []
    for sub_id in ids:
        what = f"BigCommerce store {access.host}, removing hook {sub_id}"
        try:
            _call(
                "DELETE",
                f"{access.host.rstrip('/')}/v3/hooks/{quote(sub_id)}",
                what,
                headers=_bc_headers(access),
            )
        except ConfigurationError as exc:
            if "HTTP 404" not in str(exc):
                raise
        removed.append(sub_id)
    return removed


Register = Callable[[StoreAccess, str, str, list[str]], None]
Remove = Callable[[StoreAccess, list[str]], list[str]]
PLATFORMS: dict[str, tuple[Register, Remove]] = {
    "shopify": (_shopify_register, _shopify_remove),
    "woocommerce": (_woo_register, _woo_remove),
    "bigcommerce": (_bc_register, _bc_remove),
}
#: Platforms where the secret is the app's own key (typed in the form), not one we generate.
SECRET_IS_APP_KEY = {"shopify"}


def supported(platform: str) -> bool:
    return platform in PLATFORMS


def register(access: StoreAccess, url: str, secret: str) -> list[str]:
    """Subscribe ``url`` to the order topics; return the subscription ids.

    On failure, the subscriptions this call made are removed again before the error is raised.
    """
    if not supported(access.platform):
        raise ConfigurationError(
            f"{access.platform} stores cannot send webhooks to DropStream; webhooks work with "
            f"{', '.join(sorted(PLATFORMS))}"
        )
    make, undo = PLATFORMS[access.platform]
    made: list[str] = []
    try:
        make(access, url, secret, made)
    except Exception:
        if made:  # nothing half-done at the store
            undo(access, made)
        raise
    return made


def remove(access: StoreAccess, ids: list[str]) -> list[str]:
    """Delete the subscriptions ``ids`` (already gone counts as removed); return those removed."""
    if not ids or not supported(access.platform):
        return []
    return PLATFORMS[access.platform][1](access, list(ids))


def access_of(platform: str, store: dict[str, Any]) -> StoreAccess:
    """``StoreAccess`` from a store Connection body (``connections.existing_body``)."""
    return StoreAccess(
        platform,
        str(store.get("host") or ""),
        str(store.get("login") or ""),
        str(store.get("password") or ""),
        dict(store.get("extra") or {}),
    )


def sync(
    name: str, platform: str, store: dict[str, Any], enabled: bool, api_server_url: str
) -> tuple[dict[str, Any] | None, str]:
    """Make the store's subscriptions match ``enabled``.

    Returns the store Connection's new extra (None when nothing changed) and one line for the
    setup log saying what was done and, when on, the URL the store calls.
    """
    extra = dict(store.get("extra") or {})
    ids = list(extra.get(SUBSCRIPTIONS_EXTRA) or [])
    access = access_of(platform, store)
    url = receiver_url(api_server_url, name)
    if enabled and not ids:
        secret = str(extra.get(SECRET_EXTRA) or "")
        if not secret:
            if platform in SECRET_IS_APP_KEY:
                raise ConfigurationError(
                    f"connection {name}: Shopify signs webhooks with your app's API secret key: "
                    "type it in the field 'Shopify app's API secret key (webhooks)'"
                )
            secret = generate_secret()
        ids = register(access, url, secret)
        extra.update({SECRET_EXTRA: secret, SUBSCRIPTIONS_EXTRA: ids})
        return extra, f"webhooks on: {len(ids)} subscriptions at {platform} call {url}"
    if not enabled and ids:
        remove(access, ids)
        extra.pop(SUBSCRIPTIONS_EXTRA, None)
        if platform not in SECRET_IS_APP_KEY:
            extra.pop(SECRET_EXTRA, None)  # ours: a later enable generates a new one
        return extra, f"webhooks off: {len(ids)} subscriptions removed at {platform}"
    if enabled:
        return None, f"webhooks on (unchanged): {len(ids)} subscriptions call {url}"
    return None, "webhooks off"

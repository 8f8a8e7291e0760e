"""The emulated BigCommerce store's webhooks: ``/v3/hooks`` and their deliveries.

As BigCommerce does: a hook has a ``scope`` (``store/order/created``…), a ``destination`` that
must be HTTPS on port 443 (``allow_http`` lets loopback tests use plain HTTP on any port), and
optional custom ``headers`` sent with every delivery: BigCommerce signs nothing, those headers
are how a receiver authenticates it. The payload is light (``scope``, ``store_id``,
``producer``, ``data`` {type, id}, ``created_at``) with a ``hash`` that is the same when one
event is delivered twice. A delivery without a 2xx is retried on a lengthening schedule over
about two days; then the hook is deactivated (``is_active`` false).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from dropstream.sandbox.http import Reply
from dropstream.sandbox.webhooks import Subscription, WebhookSender, _Delivery

RETRY_DELAYS = (60.0, 180.0, 180.0, 180.0, 180.0, 1200.0, 3600.0, 7200.0, 21600.0, 43200.0)
SCOPES = {
    "store/order/*",
    "store/order/created",
    "store/order/updated",
    "store/order/archived",
    "store/order/statusUpdated",
    "store/product/updated",
    "store/shipment/created",
}
FIELDS = {"scope", "destination", "is_active", "events_history_enabled", "headers"}
STORE_ID = "1025646"


def _v3_error(status: int, title: str, errors: dict[str, str] | None = None) -> Reply:
    body = {"status": status, "title": title, "type": "about:blank", "errors": errors or {}}
    return status, body, {}


class StoreHooks:
    def __init__(self, store_hash: str, *, time_scale: float = 1.0, allow_http: bool = False):
        self.store_hash = store_hash
        self.allow_http = allow_http
        self.sender = WebhookSender(
            self._headers,
            retry_delays=RETRY_DELAYS,
            give_up=self._deactivate,
            time_scale=time_scale,
        )

    def _deactivate(self, sub: Subscription) -> None:
        sub.active = False

    def _headers(self, sub: Subscription, delivery: _Delivery) -> dict[str, str]:
        return dict(sub.headers)

    def view(self, sub: Subscription) -> dict[str, Any]:
        stamp = int(sub.created_at.timestamp())
        return {
            "id": sub.id,
            "client_id": "emulator-client",
            "store_hash": self.store_hash,
            "scope": sub.topic,
            "destination": sub.url,
            "headers": dict(sub.headers) or None,
            "is_active": sub.active,
            "events_history_enabled": False,
            "created_at": stamp,
            "updated_at": stamp,
        }

    # --- routes (q, data, *ids) -----------------------------------------------------------
    def list(self, q: dict[str, str], data: Any) -> Reply:
        hooks = [self.view(s) for s in self.sender.subscriptions.values()]
        return 200, {"data": hooks, "meta": {"pagination": {"total": len(hooks)}}}, {}

    def create(self, q: dict[str, str], data: Any) -> Reply:
        if not isinstance(data, dict):
            return _v3_error(422, "The request body is not a hook")
        if extra := sorted(set(data) - FIELDS):
            return _v3_error(422, f"Unknown field '{extra[0]}'")
        errors = {}
        if data.get("scope") not in SCOPES:
            errors["scope"] = "scope must be a supported webhook scope"
        url = str(data.get("destination") or "")
        parts = urlsplit(url)
        secure = parts.scheme == "https" and parts.port in (None, 443)
        if not (secure or (self.allow_http and parts.scheme in ("http", "https") and parts.netloc)):
            errors["destination"] = "destination must be an https URL on port 443"
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            errors["headers"] = "headers must be an object of string values"
        if errors:
            return _v3_error(422, "Input is invalid", errors)
        sub = self.sender.subscribe(data["scope"], url, headers=headers)
        sub.active = bool(data.get("is_active", True))
        return 200, {"data": self.view(sub), "meta": {}}, {}

    def get(self, q: dict[str, str], data: Any, hook_id: int) -> Reply:
        sub = self.sender.subscriptions.get(hook_id)
        if sub is None:
            return _v3_error(404, "Hook not found")
        return 200, {"data": self.view(sub), "meta": {}}, {}

    def delete(self, q: dict[str, str], data: Any, hook_id: int) -> Reply:
        sub = self.sender.subscriptions.get(hook_id)
        if sub is None:
            return _v3_error(404, "Hook not found")
        view = self.view(sub)
        self.sender.unsubscribe(hook_id)
        return 200, {"data": view, "meta": {}}, {}

    # --- events -------------------------------------------------------------------------------
    def order_event(
        self, scope: str, order_id: int, created_at: int, status: dict[str, int] | None = None
    ) -> int:
        """Send ``scope`` for order ``order_id`` (also to hooks on ``store/order/*``);
        ``status`` ({previous_status_id, new_status_id}) for ``store/order/statusUpdated``."""
        data: dict[str, Any] = {"type": "order", "id": order_id}
        if status is not None:
            data["status"] = status
        payload: dict[str, Any] = {
            "created_at": created_at,
            "store_id": STORE_ID,
            "producer": f"stores/{self.store_hash}",
            "scope": scope,
            "data": data,
        }
        payload["hash"] = hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()  # noqa: S324 - BigCommerce's own payload hash
        sent = self.sender.emit(scope, payload)
        return sent + self.sender.emit("store/order/*", payload)

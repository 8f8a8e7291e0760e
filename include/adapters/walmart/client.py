"""How Walmart is called: a client-credentials token and the ``WM_*`` headers on every call,
one quota per endpoint (its usage headers), and its error bodies in the messages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from adapters.base import HttpClient
from adapters.oauth import BearerToken, ClientCredentialsGrant
from adapters.pacing import EndpointPacer, WindowPacer
from dropstream.errors import AuthenticationError, NotFoundError, UpstreamRejectedError

__all__ = ["NothingFound", "WalmartClient", "replenish_pacer"]


class NothingFound(NotFoundError):
    """404 ``CONTENT_NOT_FOUND…``: Walmart's answer to a search that matches nothing."""


def endpoint(method: str, path: str) -> str:
    """The API a request meters against: method and path without ids or query."""
    parts = path.split("?")[0].strip("/").split("/")
    kept = [p for i, p in enumerate(parts) if i < 2 or not any(c.isdigit() for c in p)]
    return f"{method} /{'/'.join(kept)}"


def error_text(response: requests.Response) -> str:
    """``code: description`` of each error, in Walmart's shapes (``errors`` as a list or as
    ``{"error": [...]}``, or ``error``); empty when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = (body.get("errors") or body.get("error") or []) if isinstance(body, dict) else []
    errors = errors.get("error") or [] if isinstance(errors, dict) else errors
    return "; ".join(
        f"{e.get('code')}: {e.get('description') or e.get('message') or ''}".rstrip(": ")
        for e in errors
        if isinstance(e, dict)
    )


def replenish_pacer() -> WindowPacer:
    """Walmart's usage headers: calls left, and when the window refills (epoch ms)."""
    return WindowPacer(
        left_header="x-current-token-count",
        reset_header="x-next-replenishment-time",
        absolute=True,
    )


def service_headers(channel_type: str) -> Callable[[], dict[str, str]]:
    """The ``WM_*`` headers of one call (a fresh correlation id each time, as Walmart asks)."""
    channel = {"WM_CONSUMER.CHANNEL.TYPE": channel_type} if channel_type else {}
    return lambda: {
        "WM_SVC.NAME": "Walmart Marketplace",
        "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
        **channel,
    }


class WalmartClient(HttpClient):
    """The shared client with Walmart's token, headers, per-endpoint pacing and error map."""

    def __init__(
        self, base_url: str, *, client_id: str, client_secret: str, channel_type: str, **kw: Any
    ) -> None:
        self.service_headers = service_headers(channel_type)
        grant = ClientCredentialsGrant(
            f"{base_url.rstrip('/')}/v3/token",
            headers=self.service_headers,
            client_id=client_id,
            client_secret=client_secret,
            client_auth="basic",
            where=f"Walmart store for connection {kw['connection_name']!r}",
            conn_id=kw["conn_id"],
        )
        self.endpoints = EndpointPacer(replenish_pacer, endpoint)
        super().__init__(
            base_url,
            token=BearerToken(grant, header="WM_SEC.ACCESS_TOKEN", prefix=""),
            pacer=self.endpoints,
            **kw,
        )
        self.session.auth = (client_id, client_secret)  # Basic rides on every call too

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One call, paced by its endpoint's quota, with fresh ``WM_*`` headers."""

        def before_send() -> None:
            self.endpoints.wait_for(method, "/" + path, self.sleep)
            self.session.headers.update(self.service_headers())

        return super().request(method, path, before_send=before_send, **kw)

    def order(self, method: str, po: str, action: str = "", **kw: Any) -> dict[str, Any]:
        """``/v3/orders/{po}[/action]``, which Walmart answers with the order (read, acknowledge,
        ship), amounts as Decimal."""
        path = f"v3/orders/{quote(po, safe='')}" + (f"/{action}" if action else "")
        answer: dict[str, Any] = self.request(method, path, **kw).json(parse_float=Decimal)
        return dict(answer["order"])

    def raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        why = error_text(response) if status in (400, 403, 404) else ""
        if not why or (status == 404 and "CONTENT_NOT_FOUND" not in why):
            return super().raise_for_status(response)
        self.endpoints.observe(response)
        if status == 404:
            raise NothingFound(f"{self.where}: {why}")
        if status == 403:
            raise AuthenticationError(
                f"{self.where}: Walmart denied access (403: {why}); give the API key of "
                f"Airflow Connection {self.conn_id!r} that access in Seller Center"
            )
        raise UpstreamRejectedError(f"{self.where}: Walmart rejected the request ({why})")

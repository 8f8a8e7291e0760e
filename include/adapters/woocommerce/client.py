"""WooCommerce REST client: the shared HttpClient plus WordPress error bodies and JSON money.

WordPress answers errors as ``{"code", "message", "data": {"status"}}``; we keep ``code`` so
callers can tell "no such route" (an extension is not installed) from "no such order".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from adapters.auth import redact_url
from adapters.base import HttpClient
from dropstream.errors import AuthenticationError, NotFoundError

API = "wp-json/wc/v3"
TRACKING_API = "wp-json/wc-shipment-tracking/v3"
NO_ROUTE = "rest_no_route"
KEY_SETTINGS = "WooCommerce > Settings > Advanced > REST API"


class WooNotFound(NotFoundError):
    """404 from WordPress; ``code`` is its error code (``rest_no_route``, ``…_invalid_id``)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class WooClient(HttpClient):
    """JSON in, JSON out (numbers as Decimal, so prices stay exact)."""

    def call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> tuple[Any, requests.Response]:
        response = self.request(method, path, json=json, params=params)
        if not response.content:
            return None, response
        return response.json(parse_float=Decimal), response

    def raise_for_status(self, response: requests.Response) -> None:
        if response.status_code == 404:
            code, message = _error(response)
            # The URL may carry query-string credentials: name the path only.
            raise WooNotFound(
                f"{self.where}: {redact_url(response.url)} not found (404 {code}: {message}); "
                f"check the site URL in Airflow Connection {self.conn_id!r}",
                code,
            )
        if response.status_code == 401:
            code, message = _error(response)
            # WC_REST_Authentication refuses a key lacking the method's permission before routing.
            if code == "woocommerce_rest_authentication_error" and "permissions" in message:
                needed = "Write" if "write" in message else "Read"
                raise AuthenticationError(
                    f"{self.where}: the WooCommerce key in Airflow Connection {self.conn_id!r} "
                    f"lacks {needed} permission (401: {message}); the flows need Read/Write: set "
                    f"the key's permissions to Read/Write under {KEY_SETTINGS}"
                )
        super().raise_for_status(response)


def _error(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    return str(body.get("code") or ""), str(body.get("message") or "")

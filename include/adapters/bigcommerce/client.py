"""BigCommerce's HTTP client: exact money, 204 as an empty answer, 403 as a missing scope and
422 bodies kept for the items they blame."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from adapters.base import HttpClient
from dropstream.errors import AuthenticationError, UpstreamRejectedError


class ScopeDenied(AuthenticationError):
    """403: the token's API account lacks the OAuth scope the endpoint needs."""


class Rejected422(UpstreamRejectedError):
    def __init__(self, message: str, body: Any) -> None:
        super().__init__(message)
        self.body = body


class BigCommerceClient(HttpClient):
    """JSON with exact money; 204 is an empty answer; 422 bodies kept for per-item errors."""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json(parse_float=Decimal)

    def raise_for_status(self, response: requests.Response) -> None:
        if response.status_code == 422:
            if self.pacer is not None:
                self.pacer.observe(response)
            raise Rejected422(
                f"{self.where} rejected the request (422): {response.text[:300]}", _json(response)
            )
        if response.status_code == 403:
            raise ScopeDenied(
                f"{self.where} denied {response.request.method} {response.url.split('?')[0]} "
                f"(403): the API account behind the access token in Airflow Connection "
                f"{self.conn_id!r} lacks the OAuth scope for it ({response.text[:200]})"
            )
        super().raise_for_status(response)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def blamed_items(body: Any, size: int) -> dict[int, str]:
    """Item index -> reason from a v3 422 body (``errors: {"items.3.sku": "…"}``)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    blamed: dict[int, str] = {}
    for field, message in (errors or {}).items() if isinstance(errors, dict) else ():
        parts = str(field).split(".")
        if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < size:
            blamed[int(parts[1])] = str(message)
    return blamed

"""Magento's HTTP client: exact money, its ``{"message", "parameters", "errors"}`` error bodies
mapped onto the error tree (a 401 is a bad token or a missing API resource), and the
``searchCriteria`` query every list endpoint takes."""

from __future__ import annotations

from contextlib import suppress
from decimal import Decimal
from typing import Any

import requests

from adapters.base import HttpClient
from dropstream import errors

PAGE_MAX = 300  # searchCriteria pageSize: the documented input limit


class AclDenied(errors.AuthenticationError):
    """401: the token is not valid, or its integration lacks the route's API resource."""


class MagentoRejected(errors.UpstreamRejectedError):
    blamed: list[tuple[str, Any]] = []  # (error, its first parameter) per failed validation


def render(entry: dict[str, Any]) -> str:
    """A Magento message with its ``%1``/``%name`` placeholders filled from ``parameters``."""
    text, params = str(entry.get("message") or ""), entry.get("parameters") or []
    named = params.items() if isinstance(params, dict) else enumerate(params, start=1)
    for name, value in sorted(named, key=lambda kv: -len(str(kv[0]))):
        text = text.replace(f"%{name}", str(value))
    return text


class MagentoClient(HttpClient):
    """JSON with exact money; Magento's ``{"message", "parameters", "errors"}`` mapped."""

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json(parse_float=Decimal) if response.content else None

    def raise_for_status(self, response: requests.Response) -> None:
        body: Any = None
        with suppress(ValueError):
            body = response.json() if response.status_code in (400, 401, 404) else None
        if not isinstance(body, dict):
            return super().raise_for_status(response)
        text, where = render(body), self.where
        if response.status_code == 401:
            raise AclDenied(
                f"{where}: {text} (401): the access token in Airflow Connection {self.conn_id!r} "
                "is not valid, or its integration lacks that API resource; check both under "
                "System > Extensions > Integrations (and, since 2.4.4, that Stores > Configuration "
                "> Services > OAuth > Consumer Settings allows access tokens as Bearer tokens)"
            )
        found = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        blamed = [(render(e), (e.get("parameters") or [None])[0]) for e in found]
        text = "; ".join([text, *(e for e, _ in blamed)])
        if response.status_code == 404:
            raise errors.NotFoundError(f"{where}: {text} (404)")
        rejected = MagentoRejected(f"{where} rejected the request (400): {text}")
        rejected.blamed = blamed
        raise rejected


def search(*filters: tuple[str, Any, str], page: int = 1, size: int = PAGE_MAX) -> dict[str, Any]:
    """``searchCriteria`` query: each filter in its own group (AND), ascending ``entity_id``."""
    params: dict[str, Any] = {"searchCriteria[pageSize]": size, "searchCriteria[currentPage]": page}
    params["searchCriteria[sortOrders][0][field]"] = "entity_id"
    params["searchCriteria[sortOrders][0][direction]"] = "ASC"
    for n, (field, value, condition) in enumerate(filters):
        for key, part in (("field", field), ("value", value), ("condition_type", condition)):
            params[f"searchCriteria[filter_groups][{n}][filters][0][{key}]"] = part
    return params

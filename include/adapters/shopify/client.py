"""Shopify Admin GraphQL client: the shared HttpClient plus Shopify's cost-based throttling.

Every response carries ``extensions.cost.throttleStatus`` (a leaky bucket per app and store).
We pace *before* sending: if the bucket, refilled at ``restoreRate`` since the last response,
cannot pay the query's cost (learnt from the last time it ran), we sleep the difference.
A ``THROTTLED`` error (HTTP 200 or 429) is retried after the computed wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from adapters.base import HttpClient
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    TransientError,
)


@dataclass(slots=True)
class Bucket:
    """The last throttleStatus seen, and when (monotonic seconds)."""

    available: float
    maximum: float
    restore_rate: float
    seen_at: float

    def available_at(self, now: float) -> float:
        return min(self.maximum, self.available + (now - self.seen_at) * self.restore_rate)


PACING_HEADROOM = 1.05


class ShopifyClient(HttpClient):
    """POSTs GraphQL documents to ``/admin/api/{version}/graphql.json``; returns ``data``."""

    def __init__(
        self,
        *args: Any,
        api_version: str,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.api_version = api_version
        self.clock = clock
        self.bucket: Bucket | None = None
        self.costs: dict[str, float] = {}  # query text -> requestedQueryCost last time
        self._query = ""  # the document in flight (for learning its cost from a THROTTLED reply)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one query or mutation; GraphQL ``errors`` raise, ``userErrors`` are the caller's."""
        response = self.request(
            "POST",
            f"admin/api/{self.api_version}/graphql.json",
            json={"query": query, "variables": variables or {}},
            before_send=lambda: self._pace(query),
        )
        body = self._body(response)
        self._learn(query, body)
        errors = body.get("errors")
        if errors:
            self._raise_graphql(errors)
        return body.get("data") or {}

    def _pace(self, query: str) -> None:
        self._query = query
        # A little headroom: the bucket was read a moment before the response reached us, and
        # another client of the same app may be spending from it too.
        needed = self.costs.get(query, 0.0) * PACING_HEADROOM
        if self.bucket is not None and self.bucket.restore_rate > 0:
            available = self.bucket.available_at(self.clock())
            if available < needed:
                self.sleep((needed - available) / self.bucket.restore_rate)

    def _learn(self, query: str, body: dict[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus")
        if status:
            # Date the reading when the answer arrived, the latest moment it can describe:
            # the refill since then is then never over-estimated, so pacing errs slow.
            self.bucket = Bucket(
                float(status["currentlyAvailable"]),
                float(status["maximumAvailable"]),
                float(status["restoreRate"]),
                self.clock(),
            )
        if cost.get("requestedQueryCost") is not None:
            self.costs[query] = float(cost["requestedQueryCost"])

    @staticmethod
    def _body(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def raise_for_status(self, response: requests.Response) -> None:
        """Shopify quirk: THROTTLED arrives as 200 or 429 with a GraphQL error body."""
        if response.status_code in (200, 429):
            body = self._body(response)
            errors = body.get("errors")
            if isinstance(errors, list) and _codes(errors) & {"THROTTLED"}:
                cost = (body.get("extensions") or {}).get("cost") or {}
                status = cost.get("throttleStatus") or {}
                wait = None
                if status.get("restoreRate"):
                    needed = float(cost.get("requestedQueryCost") or 0)
                    short = needed - float(status.get("currentlyAvailable") or 0)
                    wait = max(short, 0.0) / float(status["restoreRate"])
                # Remember the cost so the next attempt is paced from the same numbers.
                self._learn(self._query, body)
                raise RateLimitedError(
                    f"{self.where} throttled the request (query cost "
                    f"{cost.get('requestedQueryCost')})",
                    retry_after=wait,
                )
        super().raise_for_status(response)

    def _raise_graphql(self, errors: Any) -> None:
        if not isinstance(errors, list):  # e.g. {"errors": "Not Found"}
            raise ConfigurationError(f"{self.where} rejected the request: {errors}")
        messages = "; ".join(str(e.get("message", e)) for e in errors)
        codes = _codes(errors)
        if codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"}:
            raise TransientError(f"{self.where} failed internally: {messages}")
        if "ACCESS_DENIED" in codes:
            raise AuthenticationError(
                f"{self.where} denied access: {messages}. Grant the app the missing scope and "
                f"update the token in Airflow Connection {self.conn_id!r}"
            )
        raise ConfigurationError(
            f"{self.where} rejected the GraphQL request: {messages}. Check that api_version "
            f"{self.api_version!r} in Airflow Connection {self.conn_id!r} is supported"
        )


def _codes(errors: list[Any]) -> set[str]:
    return {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}

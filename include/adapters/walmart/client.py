"""Walmart's HTTP quirks as objects for the shared client: its quota headers and error bodies."""

from __future__ import annotations

import requests

from adapters.base import HttpClient
from adapters.pacing import WindowPacer
from adapters.walmart.mapping import error_text
from dropstream.errors import AuthenticationError, NotFoundError, UpstreamRejectedError

__all__ = ["NothingFound", "WalmartClient", "replenish_pacer"]


class NothingFound(NotFoundError):
    """404 ``CONTENT_NOT_FOUND…``: Walmart's answer to a search that matches nothing."""


def replenish_pacer() -> WindowPacer:
    """Walmart's quota headers: tokens left, and when the bucket refills (epoch ms)."""
    return WindowPacer(
        left_header="x-current-token-count",
        reset_header="x-next-replenishment-time",
        absolute=True,
    )


class WalmartClient(HttpClient):
    """Walmart's error bodies in the messages; a 400 is the store refusing that item."""

    def raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 404 and "CONTENT_NOT_FOUND" in (why := error_text(response)):
            raise NothingFound(f"{self.where}: {why}")
        if status in (400, 403) and (why := error_text(response)):
            if self.pacer is not None:
                self.pacer.observe(response)
            if status == 403:
                raise AuthenticationError(
                    f"{self.where}: Walmart denied access (403: {why}); give the API key of "
                    f"Airflow Connection {self.conn_id!r} that access in Seller Center"
                )
            raise UpstreamRejectedError(f"{self.where}: Walmart rejected the request ({why})")
        super().raise_for_status(response)

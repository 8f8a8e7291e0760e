"""SP-API client: Login with Amazon tokens in ``x-amz-access-token`` and Amazon's throttling.

SP-API throttles per operation with a token bucket and answers ``429 QuotaExceeded``,
usually without ``Retry-After``; ``x-amzn-RateLimit-Limit`` carries the operation's rate in
requests per second, so one token is back after ``1 / rate`` seconds. An expired or revoked
access token comes back as 403 ``Unauthorized`` naming the access token (or 401): that one
is refreshed once, a 403 for a missing role is not.
"""

from __future__ import annotations

import requests

from adapters.base import HttpClient, parse_retry_after
from adapters.oauth import BearerToken, RefreshTokenGrant
from dropstream.errors import AuthenticationError, RateLimitedError


def token_refused(response: requests.Response) -> bool:
    """401, or a 403 naming the access token (a 403 for a missing role is not refreshed)."""
    if response.status_code == 401:
        return True
    return response.status_code == 403 and "access token" in response.text.lower()


def lwa_token(grant: RefreshTokenGrant) -> BearerToken:
    """The LWA access token as SP-API wants it: bare, in ``x-amz-access-token``."""
    return BearerToken(grant, header="x-amz-access-token", prefix="", refused_when=token_refused)


class AmazonClient(HttpClient):
    """The shared HttpClient with SP-API's 429 back-off (``x-amzn-RateLimit-Limit``)."""

    def raise_for_status(self, response: requests.Response) -> None:
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = rate_wait(response.headers.get("x-amzn-RateLimit-Limit"))
            raise RateLimitedError(
                f"{self.where} is throttling {response.request.method} "
                f"{response.request.path_url.split('?')[0]} (429 QuotaExceeded)",
                retry_after=wait,
            )
        if response.status_code == 403 and not token_refused(response):
            raise RoleDenied(
                f"{self.where} was denied {response.request.method} "
                f"{response.request.path_url.split('?')[0]} (403 Unauthorized): the application "
                f"lacks the SP-API role for it, or the seller id in Airflow Connection "
                f"{self.conn_id!r} is not this seller's"
            )
        super().raise_for_status(response)


class RoleDenied(AuthenticationError):
    """403 not about the token: the app lacks the operation's role (or the resource is not ours)."""


def rate_wait(limit: str | None) -> float | None:
    """Seconds until the bucket holds one more request, from ``x-amzn-RateLimit-Limit``."""
    try:
        rate = float(limit or "")
    except ValueError:
        return None
    return 1.0 / rate if rate > 0 else None

"""OAuth2 refresh-token and client-credentials auth over the shared HttpClient (Login with
Amazon, eBay; Walmart).

``RefreshTokenGrant`` exchanges a long-lived refresh token for short-lived access tokens and
caches one until shortly before it expires. ``BearerToken`` hands it to the shared
``HttpClient(token=…)``, which puts the cached token on every request and, when the platform
refuses it (expired early, revoked), refreshes it **once** and repeats the request; a second
refusal is an ``AuthenticationError`` like any other. A refused *refresh* fails at once, naming the
connection: retrying bad credentials only trips the platform's abuse limits.
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from adapters.base import parse_retry_after
from dropstream.errors import AuthenticationError, RateLimitedError, TransientError

__all__ = ["BearerToken", "ClientCredentialsGrant", "RefreshTokenGrant", "ScopeRefused"]


class ScopeRefused(AuthenticationError):
    """The token endpoint answered ``invalid_scope``: the seller did not grant a requested scope."""


class RefreshTokenGrant:
    """``grant_type=refresh_token`` against ``token_url``; the access token is cached.

    ``client_auth="basic"`` sends the client id/secret as HTTP Basic (eBay);
    ``"form"`` sends them as form fields (Login with Amazon); ``"public"`` sends the client id
    alone, as a public (PKCE) client does (RFC 6749 2.3; Etsy).
    """

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        where: str,
        conn_id: str,
        scopes: Sequence[str] = (),
        client_auth: str = "form",
        timeout: tuple[float, float] = (10.0, 30.0),
        clock: Callable[[], float] = time.monotonic,
        renew_before: float = 60.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.where = where
        self.conn_id = conn_id
        self.scopes = tuple(scopes)
        self.client_auth = client_auth
        self.timeout = timeout
        self.clock = clock
        self.renew_before = renew_before  # refresh a little early: no request races expiry
        self.refreshes = 0
        self._token: str | None = None
        self._expires_at = 0.0
        self._session = requests.Session()  # never shares headers with the API session

    def access_token(self) -> str:
        """The cached access token, refreshed first when missing or about to expire."""
        if self._token is None or self.clock() >= self._expires_at:
            self._refresh()
        assert self._token is not None
        return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the platform refused it): the next use refreshes."""
        self._token = None

    def grants(self, scopes: Sequence[str]) -> bool:
        """Whether the refresh token covers ``scopes``: one token request, the cache untouched."""
        probe = copy.copy(self)
        probe.scopes, probe._token, probe._session = tuple(scopes), None, requests.Session()
        try:
            probe._refresh()
        except ScopeRefused:
            return False
        finally:
            probe._session.close()
        return True

    fix_hint = (
        "Check the client id (login), client secret (password) and the refresh_token extra in "
        "Airflow Connection {conn_id!r}; refresh tokens expire and are revoked when the seller "
        "re-authorises the app"
    )

    def grant_form(self) -> dict[str, str]:
        """The token request's form fields (besides scope and client credentials)."""
        return {"grant_type": "refresh_token", "refresh_token": self.refresh_token}

    def extra_headers(self) -> dict[str, str]:
        """Headers the platform wants on the token request too (default: none)."""
        return {}

    def _refresh(self) -> None:
        data = self.grant_form()
        headers = {"Accept": "application/json", "User-Agent": "DropStream/0.1"}
        headers |= self.extra_headers()
        if self.scopes:
            data["scope"] = " ".join(self.scopes)
        if self.client_auth == "basic":
            pair = f"{self.client_id}:{self.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif self.client_auth == "public":
            data["client_id"] = self.client_id
        else:
            data |= {"client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = self._session.post(
                self.token_url, data=data, headers=headers, timeout=self.timeout
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"{self.where}: cannot reach {self.token_url} ({exc})") from exc
        status = response.status_code
        if status == 429:
            raise RateLimitedError(
                f"{self.where}: the token endpoint is rate limiting us (429)",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 408 or status >= 500:
            raise TransientError(f"{self.where}: the token endpoint is unavailable ({status})")
        body = _json(response)
        if status >= 400 or not body.get("access_token"):
            reason = body.get("error_description") or body.get("error") or response.text[:200]
            if body.get("error") == "invalid_scope":  # RFC 6749 5.2: beyond what was granted
                raise ScopeRefused(
                    f"{self.where}: {self.token_url} refused scopes {' '.join(self.scopes)} "
                    f"({status}: {reason})"
                )
            raise AuthenticationError(
                f"{self.where}: {self.token_url} refused to issue an access token ({status}: "
                f"{reason}). {self.fix_hint.format(conn_id=self.conn_id)}"
            )
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self._expires_at = self.clock() + max(lifetime - self.renew_before, lifetime / 2)
        self.refreshes += 1

    def close(self) -> None:
        self._session.close()


class ClientCredentialsGrant(RefreshTokenGrant):
    """``grant_type=client_credentials`` (RFC 6749 4.4): the app's own id and secret buy the
    token, no refresh token (Walmart Marketplace). ``headers`` ride on the token request."""

    fix_hint = (
        "Check the client id (login) and client secret (password) in Airflow Connection "
        "{conn_id!r}: a regenerated secret invalidates the old one"
    )

    def __init__(
        self, token_url: str, *, headers: Callable[[], dict[str, str]] | None = None, **kw: Any
    ) -> None:
        super().__init__(token_url, refresh_token="", **kw)
        self._headers = headers or dict

    def grant_form(self) -> dict[str, str]:
        return {"grant_type": "client_credentials"}

    def extra_headers(self) -> dict[str, str]:
        return self._headers()


@dataclass(slots=True)
class BearerToken:
    """A ``RefreshTokenGrant``'s access token as a header, for ``HttpClient(token=…)``.

    ``refused`` tells a refused token (refreshed once, the request sent again) from a missing
    permission; by default any 401.
    """

    grant: RefreshTokenGrant
    header: str = "Authorization"
    prefix: str = "Bearer "
    refused_when: Callable[[requests.Response], bool] = lambda r: r.status_code == 401

    def value(self) -> str:
        return self.prefix + self.grant.access_token()

    def refused(self, response: requests.Response) -> bool:
        return self.refused_when(response)

    def invalidate(self) -> None:
        self.grant.invalidate()

    def close(self) -> None:
        self.grant.close()


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

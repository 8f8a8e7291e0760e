"""Auth strategies: how a platform's credentials ride on every request of a session.

Each strategy has ``apply(session)``; the HttpClient's session then sends them on each call.
(OAuth2 refresh-token auth with cached access tokens lives in ``adapters.oauth``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests

__all__ = ["AuthStrategy", "HeaderToken", "HttpBasic", "QueryStringKeys", "redact_url"]


class AuthStrategy(Protocol):
    def apply(self, session: requests.Session) -> None: ...


@dataclass(frozen=True, slots=True)
class HeaderToken:
    """A static token in a header (``X-Auth-Token``, ``X-Shopify-Access-Token``, …)."""

    header: str
    token: str

    def apply(self, session: requests.Session) -> None:
        session.headers[self.header] = self.token


@dataclass(frozen=True, slots=True)
class HttpBasic:
    """HTTP Basic (RFC 7617): username and password in the Authorization header."""

    username: str
    password: str

    def apply(self, session: requests.Session) -> None:
        session.auth = (self.username, self.password)


@dataclass(frozen=True, slots=True)
class QueryStringKeys:
    """Credentials as query parameters, for servers that strip the Authorization header.

    They then appear in URLs: error messages must not echo request URLs (see ``redact_url``).
    """

    params: tuple[tuple[str, str], ...]

    def apply(self, session: requests.Session) -> None:
        session.params = dict(self.params)


from adapters.base import redact_url  # noqa: E402 - re-exported for the strategies' users

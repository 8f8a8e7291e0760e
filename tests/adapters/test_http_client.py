"""The shared HttpClient composes a pacer and a refreshing token (adapters/http_client.py)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from adapters.base import HttpClient, RetryPolicy
from adapters.pacing import WindowPacer
from dropstream.errors import AuthenticationError
from dropstream.sandbox.http import LoopbackServer, Reply


class _Api:
    """Accepts ``Bearer t2`` only; every answer says the window's quota is spent."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Reply:
        self.seen.append(headers.get("Authorization", ""))
        rate = {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": "30"}
        if headers.get("Authorization") != "Bearer t2":
            return 401, {"error": "token expired"}, rate
        return 200, {"ok": True}, rate


class _Token:
    """Hands out t1, then (after invalidate) t2: a grant that refreshes once."""

    header = "Authorization"

    def __init__(self) -> None:
        self.tokens = ["t1", "t2"]
        self.closed = False

    def value(self) -> str:
        return "Bearer " + self.tokens[0]

    def refused(self, response: requests.Response) -> bool:
        return response.status_code == 401

    def invalidate(self) -> None:
        if len(self.tokens) > 1:
            self.tokens.pop(0)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def api():
    api = _Api()
    server = LoopbackServer(api.handle)
    server.start()
    try:
        yield api, server.url
    finally:
        server.stop()


def _client(url: str, **kwargs: Any) -> HttpClient:
    retry = RetryPolicy(attempts=2, initial_wait=0.01, jitter=0.0)
    return HttpClient(url, platform="test", connection_name="c", conn_id="x", retry=retry, **kwargs)


def test_a_pacer_and_a_refreshing_token_work_together(api):
    server, url = api
    pacer = WindowPacer(
        left_header="X-Rate-Limit-Requests-Left", reset_header="X-Rate-Limit-Time-Reset-Ms"
    )
    token = _Token()
    client = _client(url, pacer=pacer, token=token)
    assert client.request("GET", "orders").json() == {"ok": True}
    assert server.seen == ["Bearer t1", "Bearer t2"]  # refused once, refreshed, sent again
    assert client.request("GET", "orders").status_code == 200
    assert pacer.waits >= 2  # each answer said the quota was spent: it waited before sending
    client.close()
    assert token.closed


def test_a_token_refused_after_its_refresh_is_an_authentication_error(api):
    server, url = api
    token = _Token()
    token.tokens = ["t1"]  # the refresh brings nothing better
    with pytest.raises(AuthenticationError):
        _client(url, token=token).request("GET", "orders")
    assert server.seen == ["Bearer t1", "Bearer t1"]

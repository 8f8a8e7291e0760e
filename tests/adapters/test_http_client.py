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


def test_poll_asks_until_done_pausing_between_asks_and_says_when_it_gave_up():
    states = iter(["IN_PROGRESS", "IN_PROGRESS", "DONE", "DONE"])

    def handle(method: str, path: str, query: Any, headers: Any, body: bytes) -> Reply:
        return 200, {"status": next(states), "asked": path}, {}

    server = LoopbackServer(handle)
    server.start()
    try:
        pauses: list[float] = []
        client = _client(server.url, sleep=pauses.append)
        done = lambda answer: answer["status"] == "DONE"  # noqa: E731
        assert client.poll("feeds/7", done=done, attempts=5, pause=2.5) == (
            {"status": "DONE", "asked": "/feeds/7"},
            True,
        )
        assert pauses == [2.5, 2.5]  # between asks, none before the first
        assert client.poll("feeds/8", done=lambda a: False, attempts=1, pause=9.0) == (
            {"status": "DONE", "asked": "/feeds/8"},
            False,
        )
        assert pauses == [2.5, 2.5]
    finally:
        server.stop()


def test_a_connection_without_what_the_platform_needs_names_itself():
    from adapters.base import ConnectionInfo
    from dropstream.errors import ConfigurationError

    conn = ConnectionInfo("acme_store", login="id")
    conn.require(bool(conn.login), "login = the client id")
    with pytest.raises(ConfigurationError, match="'acme_store' needs password = the secret"):
        conn.require(bool(conn.password), "password = the secret")

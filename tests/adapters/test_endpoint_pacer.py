"""Pacing objects of the kit: a window read from headers, one window per endpoint."""

from __future__ import annotations

import requests

from adapters.pacing import EndpointPacer, WindowPacer
from adapters.walmart.client import endpoint, replenish_pacer


def answer(method: str, url: str, headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers.update(headers)
    response.request = requests.Request(method, url).prepare()
    return response


def test_an_absolute_reset_time_is_a_wait_from_now() -> None:
    relative = WindowPacer(left_header="left", reset_header="in")
    assert relative.reset_after(answer("GET", "http://x/", {"in": "2500"})) == 2.5
    walmart = replenish_pacer()
    walmart.wall_clock = lambda: 1_000.0
    reply = answer("GET", "http://x/", {"x-next-replenishment-time": "1002500"})
    assert walmart.reset_after(reply) == 2.5
    past = answer("GET", "http://x/", {"x-next-replenishment-time": "999000"})
    assert walmart.reset_after(past) == 0.0


def test_endpoints_are_paced_apart() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def make() -> WindowPacer:
        pacer = replenish_pacer()
        pacer.clock = lambda: now[0]
        pacer.wall_clock = lambda: 1_000.0
        return pacer

    pacer = EndpointPacer(make, endpoint)
    spent = {"x-current-token-count": "0", "x-next-replenishment-time": "1003000"}
    pacer.observe(answer("POST", "http://x/v3/orders/1796277083001/acknowledge", spent))
    pacer.wait_for("GET", "/v3/orders?limit=200", sleeps.append)
    assert sleeps == []  # another endpoint's quota
    pacer.wait_for("POST", "/v3/orders/1796277083999/acknowledge", sleeps.append)
    assert sleeps == [3.0]  # the same endpoint, whatever the order id
    assert pacer.waits == 1


def test_endpoint_names_drop_ids_and_queries() -> None:
    assert endpoint("POST", "/v3/orders/1796277083001/shipping") == "POST /v3/orders/shipping"
    assert endpoint("GET", "/v3/orders?limit=2&soIndex=4") == "GET /v3/orders"
    assert endpoint("GET", "/v3/feeds/F0000000A@AU8BAQA?offset=0") == "GET /v3/feeds"
    assert endpoint("PUT", "/v3/inventory?sku=A") == "PUT /v3/inventory"

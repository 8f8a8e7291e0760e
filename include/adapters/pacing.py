"""Pacing from rate-limit headers: slow down *before* the platform throttles us.

``WindowPacer`` reads a "requests left" header and a "window resets in N ms" header (BigCommerce's
``X-Rate-Limit-Requests-Left`` / ``X-Rate-Limit-Time-Reset-Ms``): when the quota is spent it
sleeps until the reset, and a 429 is retried after the reset even without ``Retry-After``.
``PacedHttpClient`` wires a pacer into the shared HttpClient.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from adapters.base import HttpClient, parse_retry_after
from dropstream.errors import RateLimitedError

__all__ = ["PacedHttpClient", "WindowPacer"]


class WindowPacer:
    """Quota per time window, learnt from response headers."""

    def __init__(
        self,
        *,
        left_header: str,
        reset_header: str,
        reset_unit: float = 0.001,  # header unit in seconds (ms -> 0.001)
        reserve: int = 0,  # keep this many requests for other clients of the same quota
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.left_header = left_header
        self.reset_header = reset_header
        self.reset_unit = reset_unit
        self.reserve = reserve
        self.clock = clock
        self.paused_until = 0.0
        self.waits = 0  # how many times we paced (for tests and benchmarks)

    def reset_after(self, response: requests.Response) -> float | None:
        raw = response.headers.get(self.reset_header)
        try:
            return max(float(raw) * self.reset_unit, 0.0) if raw is not None else None
        except ValueError:
            return None

    def observe(self, response: requests.Response) -> None:
        raw_left = response.headers.get(self.left_header)
        reset = self.reset_after(response)
        if raw_left is None or reset is None or not raw_left.strip().lstrip("-").isdigit():
            return
        if int(raw_left) <= self.reserve:
            self.paused_until = self.clock() + reset

    def wait(self, sleep: Callable[[float], None]) -> None:
        delay = self.paused_until - self.clock()
        if delay > 0:
            self.waits += 1
            sleep(delay)
        self.paused_until = 0.0


class PacedHttpClient(HttpClient):
    """HttpClient that waits out a spent quota before sending and retries 429 at the reset."""

    def __init__(self, *args: Any, pacer: WindowPacer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        before_send: Callable[[], None] | None = None,
        inspect: Callable[[requests.Response], None] | None = None,
    ) -> requests.Response:
        def paced() -> None:
            self.pacer.wait(self.sleep)
            if before_send is not None:
                before_send()

        return super().request(
            method, path, json=json, params=params, before_send=paced, inspect=inspect
        )

    def raise_for_status(self, response: requests.Response) -> None:
        self.pacer.observe(response)
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = self.pacer.reset_after(response)
            self.pacer.paused_until = 0.0  # the retry policy sleeps ``wait``; do not wait twice
            raise RateLimitedError(f"{self.where} is rate limiting us (429)", retry_after=wait)
        super().raise_for_status(response)

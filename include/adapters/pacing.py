"""Pacing from rate-limit headers: slow down *before* the platform throttles us.

``WindowPacer`` reads a "requests left" header and a "window resets in N ms" header (BigCommerce's
``X-Rate-Limit-Requests-Left`` / ``X-Rate-Limit-Time-Reset-Ms``): when the quota is spent it
sleeps until the reset, and a 429 is retried after the reset even without ``Retry-After``.
``FixedRatePacer`` spaces requests evenly at a rate the merchant knows (a platform, or the proxy in
front of it, that sends no quota headers): at most ``rate`` a second, so a token bucket of that
rate never empties. Hand one to the shared ``HttpClient(pacer=…)``; it composes with any auth.

``QuotaPacer`` reads "calls left this second" and "calls left today" headers without a reset time
(Etsy's ``x-remaining-this-second`` / ``x-remaining-today``): a spent second is waited out whole,
and a spent day stops the run with ``QuotaSpent`` instead of sleeping for hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from dropstream.errors import DropStreamError

__all__ = ["EndpointPacer", "FixedRatePacer", "QuotaPacer", "QuotaSpent", "WindowPacer"]


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
        absolute: bool = False,  # the reset header is a time (epoch, in reset_unit), not a delay
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.absolute = absolute
        self.wall_clock = wall_clock
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
            if raw is None:
                return None
            delay = float(raw) * self.reset_unit - (self.wall_clock() if self.absolute else 0.0)
            return max(delay, 0.0)
        except ValueError:
            return None

    def observe(self, response: requests.Response) -> None:
        raw_left = response.headers.get(self.left_header)
        reset = self.reset_after(response)
        if raw_left is None or reset is None or not raw_left.strip().lstrip("-").isdigit():
            return
        if int(raw_left) <= self.reserve:
            self.paused_until = self.clock() + reset

    def retry_after(self, response: requests.Response) -> float | None:
        """On a 429: the window's reset; the pause is forgotten (the retry policy sleeps it)."""
        self.paused_until = 0.0
        return self.reset_after(response)

    def wait(self, sleep: Callable[[float], None]) -> None:
        delay = self.paused_until - self.clock()
        if delay > 0:
            self.waits += 1
            sleep(delay)
        self.paused_until = 0.0


class FixedRatePacer:
    """At most ``rate`` requests a second, evenly spaced; a 429 is left to its Retry-After."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        self.interval = 1.0 / rate
        self.clock = clock
        self.next_at = 0.0
        self.waits = 0  # how many times we paced (for tests and benchmarks)

    def wait(self, sleep: Callable[[float], None]) -> None:
        now = self.clock()
        if self.next_at > now:
            self.waits += 1
            sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval

    def observe(self, response: requests.Response) -> None:
        """Nothing to learn: the rate is configured, not announced."""

    def retry_after(self, response: requests.Response) -> float | None:
        return None  # the 429's own Retry-After (the client reads it) or the backoff


class QuotaSpent(DropStreamError):
    """The platform's daily request quota is spent: stop; the next run carries on."""


def _count(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.strip().lstrip("-").isdigit() else None


class QuotaPacer:
    """A per-second quota and a per-day quota, learnt from "calls left" headers.

    The second's quota carries no reset time: when it is spent (``left <= reserve``) the pacer
    waits ``window`` seconds, which is enough whether the platform counts calendar seconds or
    refills a token bucket. A 429 (which carries no quota headers on Etsy) is retried after the
    same window unless the answer gives a ``Retry-After``.
    """

    def __init__(
        self,
        *,
        second_header: str,
        day_header: str = "",
        window: float = 1.0,
        reserve: int = 0,
        what: str = "the store",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.second_header, self.day_header = second_header, day_header
        self.window, self.reserve, self.what, self.clock = window, reserve, what, clock
        self.paused_until = 0.0
        self.day_left: int | None = None
        self.waits = 0  # how many times we paced (for tests and benchmarks)

    def observe(self, response: requests.Response) -> None:
        left = _count(response.headers.get(self.second_header))
        if left is not None and left <= self.reserve:
            self.paused_until = self.clock() + self.window
        if self.day_header and (day := _count(response.headers.get(self.day_header))) is not None:
            self.day_left = day

    def retry_after(self, response: requests.Response) -> float | None:
        self.paused_until = 0.0
        return self.window

    def wait(self, sleep: Callable[[float], None]) -> None:
        if self.day_left is not None and self.day_left <= self.reserve:
            raise QuotaSpent(
                f"{self.what}: the app's daily request quota is spent ({self.day_header} "
                f"{self.day_left}); the next run carries on where this one stopped. Ask the "
                "platform for a higher limit if this recurs"
            )
        delay = self.paused_until - self.clock()
        if delay > 0:
            self.waits += 1
            sleep(delay)
        self.paused_until = 0.0


class EndpointPacer:
    """One quota per endpoint (Walmart meters each API apart): a ``WindowPacer`` per key.

    ``key(method, path)`` names the endpoint a request meters against. The client calls
    ``observe``/``retry_after`` with the response (its request says which endpoint); ``wait``
    cannot know the next request, so the adapter waits in ``before_send`` with ``wait_for``.
    """

    def __init__(self, make: Callable[[], WindowPacer], key: Callable[[str, str], str]) -> None:
        self.make, self.key = make, key
        self.pacers: dict[str, WindowPacer] = {}

    def of(self, endpoint: str) -> WindowPacer:
        if endpoint not in self.pacers:
            self.pacers[endpoint] = self.make()
        return self.pacers[endpoint]

    def _for(self, response: requests.Response) -> WindowPacer:
        request = response.request
        return self.of(self.key(str(request.method), str(request.path_url)))

    def wait_for(self, method: str, path: str, sleep: Callable[[float], None]) -> None:
        self.of(self.key(method, path)).wait(sleep)

    def wait(self, sleep: Callable[[float], None]) -> None:
        """Nothing to wait for before knowing the endpoint (see ``wait_for``)."""

    def observe(self, response: requests.Response) -> None:
        self._for(response).observe(response)

    def retry_after(self, response: requests.Response) -> float | None:
        return self._for(response).retry_after(response)

    @property
    def waits(self) -> int:
        return sum(p.waits for p in self.pacers.values())

"""The base every platform emulator stands on: lifecycle, request log, injected failures, crash
capture, a token bucket for the platform's rate limit, and the check for unknown parameters.

An emulator that raises while answering must fail the test that drove it: the client only sees
a 500 (which adapters retry), so the base records the crash and ``check_no_crash()`` (called by
every fixture's teardown) raises ``EmulatorCrashed`` with the request and the traceback.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any, Self

from dropstream.sandbox.http import JSON, LoopbackServer, Reply, json_default


class EmulatorCrashed(AssertionError):
    """A request crashed the emulator: a bug in it, or a request it does not model."""


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` a second; a request pays its cost or waits.

    Thread-safe. ``clock`` is injectable so the refill is testable without sleeping.
    """

    def __init__(
        self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity, self.rate, self._clock = float(capacity), float(rate), clock
        self._available, self._at = self.capacity, clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.capacity, self._available + (now - self._at) * self.rate)
        self._at = now

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def take(self, cost: float = 1.0) -> bool:
        """Pay ``cost`` if the bucket holds it; False (nothing paid) when it does not."""
        with self._lock:
            self._refill()
            if self._available < cost:
                return False
            self._available -= cost
            return True

    def seconds_until(self, cost: float = 1.0) -> float:
        """How long until ``cost`` can be paid (0 when it can now)."""
        with self._lock:
            self._refill()
            missing = cost - self._available
            return max(missing, 0.0) / self.rate if self.rate else float("inf")

    def set(self, *, rate: float | None = None, available: float | None = None) -> None:
        """Change the refill rate (from now on) or the tokens held (drain it, or fill it)."""
        with self._lock:
            self._refill()
            if rate is not None:
                self.rate = float(rate)
            if available is not None:
                self._available = min(float(available), self.capacity)


def unknown(given: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """The names in ``given`` a strict endpoint does not accept, sorted."""
    return sorted(set(given) - set(allowed))


class StrictEmulator:
    """Runs ``handle`` on a loopback HTTP server and keeps what tests inspect afterwards.

    Subclasses implement ``handle`` (the ``LoopbackServer`` signature they choose with
    ``raw_target``), wrap its body in ``answer(log, respond)``, and give ``crash_reply`` the
    platform's error shape. ``requests`` holds one dict per request (``method``, ``path``,
    ``status``, and what the subclass adds); ``crashes`` the tracebacks of requests that raised.
    """

    raw_target: bool = False
    content_type: str = JSON
    json_default: Callable[[Any], Any] | None = json_default

    def __init__(self, *, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.crashes: list[str] = []
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._lock = threading.RLock()
        self._server = LoopbackServer(
            self.handle,
            raw_target=self.raw_target,
            content_type=self.content_type,
            json_default=type(self).json_default,
            port=port,
        )

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check_no_crash(self) -> None:
        """Raise ``EmulatorCrashed`` if any request made the emulator raise."""
        if self.crashes:
            raise EmulatorCrashed(
                f"{type(self).__name__} crashed on {len(self.crashes)} request(s); "
                "the client saw a 500. First:\n" + self.crashes[0]
            )

    # --- faults -----------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` authenticated requests with ``status`` (the platform's shape)."""
        self._failures.extend([(status, {})] * n)

    def next_failure(self) -> tuple[int, dict[str, str]] | None:
        """The injected failure for this request, if one is queued (call under the lock)."""
        return self._failures.pop(0) if self._failures else None

    # --- answering --------------------------------------------------------------------------
    def handle(self, *args: Any) -> Reply:
        raise NotImplementedError

    def crash_reply(self, exc: Exception) -> Reply:
        """The 500 a client sees when the emulator raised (override: the platform's shape)."""
        return 500, {"error": f"emulator crashed: {exc!r}"}, {}

    def answer(self, log: dict[str, Any], respond: Callable[[], Reply]) -> Reply:
        """Log the request, run ``respond`` under the emulator's lock, record a crash."""
        self.requests.append(log)
        try:
            with self._lock:
                reply = respond()
        except Exception as exc:  # recorded: check_no_crash fails the test at teardown
            log["crash"] = repr(exc)
            self.crashes.append(f"{log.get('method')} {log.get('path')}\n{traceback.format_exc()}")
            reply = self.crash_reply(exc)
        log["status"] = reply[0]
        return reply

"""How the emulated stores send webhooks: subscriptions, signed deliveries, retries.

Each emulator owns one ``WebhookSender`` and tells it what happened (``emit(topic, payload)``); the
sender delivers the event to every active subscription of that topic from ``workers`` background
threads (8 by default: the platforms deliver concurrently), the way the platform does: the
platform's headers and signature (``sign``, called at each try), a 2xx within ``timeout`` seconds
counts as delivered, anything else (a 4xx too) is retried on the platform's schedule
(``retry_delays``; ``time_scale`` shrinks it for tests) with the *same* payload and event, and what
the platform does after too many failures (``give_up``: Shopify and BigCommerce stop retrying the
event and drop the subscription, WooCommerce disables the webhook). ``attempts`` records every try
(when it was sent and when it was answered) for tests to inspect.

The payload is serialised once per event, so a retry's body is byte-identical.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

__all__ = ["Attempt", "Subscription", "WebhookSender"]


@dataclass
class Subscription:
    id: int
    topic: str
    url: str
    secret: str = ""  # the key the platform signs with, when it signs per subscription
    headers: dict[str, str] = field(default_factory=dict)  # BigCommerce's custom headers
    active: bool = True
    failures: int = 0  # consecutive failed deliveries (WooCommerce disables at its limit)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Attempt:
    subscription: int
    topic: str
    delivery_id: str
    number: int  # 1 for the first try
    status: int | None  # None: no answer (refused, timed out)
    at: float  # time.monotonic() when the answer came (or the try failed)
    sent: float = 0.0  # time.monotonic() when the request went out


@dataclass
class _Delivery:
    subscription: Subscription
    topic: str
    delivery_id: str
    event_id: str
    body: bytes
    triggered_at: datetime
    number: int = 1


Sign = Callable[[Subscription, "_Delivery"], dict[str, str]]


class WebhookSender:
    def __init__(
        self,
        sign: Sign,
        *,
        retry_delays: Sequence[float],
        give_up: Callable[[Subscription], None] | None = None,
        timeout: float = 5.0,
        time_scale: float = 1.0,
        workers: int = 8,
    ) -> None:
        self._sign = sign
        self.retry_delays = tuple(retry_delays)
        self._give_up = give_up
        self.timeout = timeout
        self.time_scale = time_scale
        self.subscriptions: dict[int, Subscription] = {}
        self.attempts: list[Attempt] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._due: list[tuple[float, int, _Delivery]] = []
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopped = False
        self._local = threading.local()  # one requests.Session per delivery thread
        self._sessions: list[requests.Session] = []
        self._threads = [
            threading.Thread(target=self._run, name=f"webhook-sender-{n}", daemon=True)
            for n in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    # --- subscriptions ------------------------------------------------------------------------
    def subscribe(
        self, topic: str, url: str, *, secret: str = "", headers: dict[str, str] | None = None
    ) -> Subscription:
        with self._cond:
            sub = Subscription(next(self._ids), topic, url, secret, dict(headers or {}))
            self.subscriptions[sub.id] = sub
            return sub

    def unsubscribe(self, subscription_id: int) -> bool:
        with self._cond:
            return self.subscriptions.pop(subscription_id, None) is not None

    def active(self, topic: str | None = None) -> list[Subscription]:
        with self._cond:
            return [
                s
                for s in self.subscriptions.values()
                if s.active and (topic is None or s.topic == topic)
            ]

    # --- events -------------------------------------------------------------------------------
    def emit(self, topic: str, payload: dict[str, Any], *, event_id: str = "") -> int:
        """Queue ``payload`` for every active subscription of ``topic``; return how many."""
        body = json.dumps(payload, default=str, separators=(",", ":")).encode()
        now = datetime.now(UTC)
        event = event_id or f"evt-{next(self._seq)}-{time.time_ns()}"
        targets = self.active(topic)
        with self._cond:
            for sub in targets:
                delivery = _Delivery(sub, topic, f"{event}-{sub.id}", event, body, now)
                heapq.heappush(self._due, (time.monotonic(), next(self._seq), delivery))
            self._cond.notify_all()
        return len(targets)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued or in flight (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._due or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def pending(self) -> int:
        with self._cond:
            return len(self._due) + self._in_flight

    def delivered(self, topic: str | None = None) -> list[Attempt]:
        return [
            a
            for a in list(self.attempts)
            if a.status is not None and 200 <= a.status < 300 and topic in (None, a.topic)
        ]

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        for session in self._sessions:
            session.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._cond:
                self._sessions.append(session)
        return session

    # --- the delivery loop --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._due or self._due[0][0] > time.monotonic()):
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._cond.wait(wait if wait is None else max(wait, 0.0))
                if self._stopped:
                    return
                _, _, delivery = heapq.heappop(self._due)
                self._in_flight += 1
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: _Delivery) -> None:
        sub = delivery.subscription
        if sub.id not in self.subscriptions or not sub.active:
            return  # removed or disabled since: the platform drops it
        headers = {"Content-Type": "application/json", **self._sign(sub, delivery)}
        status: int | None
        sent = time.monotonic()
        try:
            answer = self._session().post(
                sub.url, data=delivery.body, headers=headers, timeout=self.timeout
            )
            status = answer.status_code
        except requests.RequestException:
            status = None
        attempt = Attempt(
            sub.id,
            delivery.topic,
            delivery.delivery_id,
            delivery.number,
            status,
            time.monotonic(),
            sent,
        )
        with self._cond:
            self.attempts.append(attempt)
            if status is not None and 200 <= status < 300:
                sub.failures = 0
                return
            sub.failures += 1
        if delivery.number > len(self.retry_delays):
            if self._give_up is not None:
                self._give_up(sub)
            return
        delay = self.retry_delays[delivery.number - 1] * self.time_scale
        delivery.number += 1
        with self._cond:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._seq), delivery))
            self._cond.notify_all()

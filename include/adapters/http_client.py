"""The shared HTTP client every store adapter talks through.

One place decides timeouts, connection reuse, retry policy and how HTTP failures map onto the
exception tree; platforms add pacing and auth as objects (``pacer``, ``token``) and their error
quirks by overriding ``raise_for_status``. The Airflow Connection a client is built from is
read here too (``read_connection``).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from dropstream.connection_lookup import OR_UNREADABLE, look_up
from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    UpstreamRejectedError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """The parts of an Airflow Connection an adapter uses (read once, on first use)."""

    conn_id: str
    host: str = ""
    login: str = ""
    password: str = ""
    port: int | None = None
    schema: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def require(self, present: bool, needs: str) -> None:
        """ConfigurationError naming this Connection and what it ``needs``, unless ``present``."""
        if not present:
            raise ConfigurationError(f"Airflow Connection {self.conn_id!r} needs {needs}")

    def base_url(self) -> str:
        """``host`` as a URL: https unless a scheme is given; ``port`` added when set."""
        host = self.host.strip().rstrip("/")
        if not host:
            raise ConfigurationError(
                f"Airflow Connection {self.conn_id!r} has no host: set it to the store's base URL"
            )
        if "://" not in host:
            host = f"https://{host}"
        if self.port and urlsplit(host).port is None:
            split = urlsplit(host)
            host = f"{split.scheme}://{split.hostname}:{self.port}{split.path}"
        return host


def read_connection(conn_id: str, *, purpose: str = "") -> ConnectionInfo:
    """Read Airflow Connection ``conn_id`` (secrets backends, ``AIRFLOW_CONN_*``, API server)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = look_up(conn_id)
    except AirflowNotFoundException as exc:
        what = f" ({purpose})" if purpose else ""
        raise ConfigurationError(
            f"Airflow Connection {conn_id!r}{what} does not exist{OR_UNREADABLE}: create it "
            "(the dropstream_setup DAG does) or fix the conn_id in the registry"
        ) from exc
    return ConnectionInfo(
        conn_id=conn_id,
        host=conn.host or "",
        login=conn.login or "",
        password=conn.password or "",
        port=conn.port,
        schema=conn.schema or "",
        extra=dict(conn.extra_dejson or {}),
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; a server-given wait wins, capped at ``max_wait``."""

    attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 60.0
    jitter: float = 0.5

    def wait(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self.max_wait) + random.uniform(0, 0.05)
        backoff = wait_exponential_jitter(
            multiplier=self.initial_wait, max=self.max_wait, jitter=self.jitter
        )
        return float(backoff(retry_state))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


_QUERY = re.compile(r"\?[^\s'\")]*")


def redact_url(url: str) -> str:
    """``url`` without its query string: some platforms carry credentials there."""
    return url.split("?", 1)[0]


def redact_text(error: object) -> str:
    """An error's text with every URL query string cut (requests quotes whole URLs)."""
    return _QUERY.sub("?…", str(error))


def json_field(response: requests.Response, name: str) -> str:
    """Field ``name`` of a JSON object answer as text ("" when absent or not JSON)."""
    try:
        body = response.json() if name else None
    except ValueError:
        return ""
    return str(body.get(name) or "") if isinstance(body, dict) else ""


class Pacer(Protocol):
    """Slows a client down before the platform has to (``adapters.pacing``)."""

    def wait(self, sleep: Callable[[float], None]) -> None:
        """Before each send: sleep while the platform's quota is spent."""

    def observe(self, response: requests.Response) -> None:
        """After each answer: learn the quota left from it."""

    def retry_after(self, response: requests.Response) -> float | None:
        """On a 429: seconds until the quota is back (None: unknown)."""


class TokenAuth(Protocol):
    """A refreshing credential sent in a header (``adapters.oauth.BearerToken``)."""

    header: str

    def value(self) -> str:
        """The header's value now (a cached token, refreshed when about to expire)."""

    def refused(self, response: requests.Response) -> bool:
        """Does this answer say the token (not a permission) is bad?"""

    def invalidate(self) -> None: ...

    def close(self) -> None: ...


class _TokenRefused(AuthenticationError):
    """The platform refused the access token: refresh it once and try again."""


class HttpClient:
    """requests.Session with timeouts, retries and status -> DropStream error mapping.

    Cross-cutting concerns are objects handed in, in any combination: ``pacer`` (a rate
    limit kept ahead of), ``token`` (a refreshing credential; refused once, it is refreshed
    and the request sent again). Static credentials ride on the session (``adapters.auth``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        platform: str,
        connection_name: str,
        conn_id: str,
        headers: Mapping[str, str] | None = None,
        credential_hint: str = "credentials",
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
        token: TokenAuth | None = None,
        error_field: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.token = token
        self.error_field = error_field  # the JSON field an error answer explains itself in
        self._may_refresh = True
        self.platform = platform
        self.connection_name = connection_name
        self.conn_id = conn_id
        self.credential_hint = credential_hint
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": "DropStream/0.1", "Accept": "application/json"})
        self.session.headers.update(dict(headers or {}))

    @property
    def where(self) -> str:
        return f"{self.platform.capitalize()} store for connection {self.connection_name!r}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        before_send: Callable[[], None] | None = None,
        data: Mapping[str, str] | None = None,
        files: Any = None,
    ) -> requests.Response:
        """Send one logical request, retrying TransientErrors (``before_send`` runs before each
        attempt: the platform's own pacing). ``data`` sends a form body instead of ``json``;
        ``files`` a multipart upload, as requests takes it."""
        try:
            return self._request(method, path, json, params, before_send, data, files)
        except _TokenRefused:
            assert self.token is not None
            self.token.invalidate()
            self._may_refresh = False
            try:
                return self._request(method, path, json, params, before_send, data, files)
            finally:
                self._may_refresh = True

    def poll(
        self,
        path: str,
        *,
        done: Callable[[Any], bool],
        attempts: int,
        pause: float,
        params: Mapping[str, Any] | None = None,
    ) -> tuple[Any, bool]:
        """``GET path`` until ``done(answer)`` (a feed, a job), ``pause`` seconds apart, at most
        ``attempts`` times: (the last JSON answer, whether it was done)."""
        answer: Any = {}
        for attempt in range(attempts):
            if attempt:
                self.sleep(pause)
            answer = self.request("GET", path, params=params).json()
            if done(answer):
                return answer, True
        return answer, False

    def _request(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, Any] | None,
        before_send: Callable[[], None] | None,
        data: Mapping[str, str] | None = None,
        files: Any = None,
    ) -> requests.Response:
        url = path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.retry.attempts),
            wait=self.retry.wait,
            sleep=self.sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        for attempt in retrying:
            with attempt:
                if self.pacer is not None:
                    self.pacer.wait(self.sleep)
                if self.token is not None:
                    self.session.headers[self.token.header] = self.token.value()
                if before_send is not None:
                    before_send()
                response = self._send_once(
                    method, url, json=json, params=params, data=data, files=files
                )
                self.raise_for_status(response)
                return response
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | None = None,
        files: Any = None,
    ) -> requests.Response:
        try:
            return self.session.request(
                method,
                url,
                json=json,
                params=params,
                data=data,
                files=files,
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise TransientError(
                f"{self.where}: {method} {redact_url(url)} timed out ({redact_text(exc)})"
            ) from exc
        except requests.ConnectionError as exc:
            raise TransientError(
                f"{self.where}: cannot reach {redact_url(url)} ({redact_text(exc)})"
            ) from exc

    def raise_for_status(self, response: requests.Response) -> None:
        """Map an HTTP error status onto the exception tree (2xx/3xx pass)."""
        status = response.status_code
        if self.pacer is not None:
            self.pacer.observe(response)
        if self.token is not None and self._may_refresh and self.token.refused(response):
            raise _TokenRefused(f"{self.where}: access token refused ({status})")
        if status < 400:
            return
        body = self.error_text(response)
        where, conn = self.where, self.conn_id
        if status == 401:
            raise AuthenticationError(
                f"{where} refused the {self.credential_hint} (401): check the "
                f"{self.credential_hint} in Airflow Connection {conn!r}"
            )
        if status == 403:
            raise AuthenticationError(
                f"{where} denied access (403): the {self.credential_hint} in Airflow Connection "
                f"{conn!r} lacks a permission this flow needs ({body})"
            )
        if status == 404:
            said = f" ({body})" if self.error_field else ""  # the platform's own reason
            raise NotFoundError(
                f"{where}: {redact_url(response.url)} not found (404){said}: check host and API "
                f"version in Airflow Connection {conn!r}"
            )
        if status == 429:
            paced = self.pacer.retry_after(response) if self.pacer is not None else None
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            retry_after = paced if retry_after is None else retry_after
            raise RateLimitedError(f"{where} is rate limiting us (429)", retry_after=retry_after)
        if status == 408 or status >= 500:
            raise TransientError(f"{where} is unavailable ({status}): {body}")
        if status in (409, 422):
            raise UpstreamRejectedError(f"{where} rejected the request ({status}): {body}")
        raise ConfigurationError(f"{where} rejected the request ({status}): {body}")

    def error_text(self, response: requests.Response) -> str:
        """What an error answer says, for messages: its ``error_field`` if set and present (the
        platform's error shape, e.g. Etsy's ``{"error": "…"}``), else the start of the body."""
        return json_field(response, self.error_field) or response.text[:300]

    def _log_retry(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning("%s; retry %d in %.2fs", exc, retry_state.attempt_number, wait)

    def close(self) -> None:
        self.session.close()
        if self.token is not None:
            self.token.close()

"""The webhook receiver: ``POST /dropstream/webhooks/<connection>`` (docs/webhooks.md).

Stores cannot log in to Airflow, so this route alone carries no Airflow authentication: the
platform's signature (``dropstream.webhooks``) is the authentication. In order, before anything
reads the body as data:

1. a body over 1 MiB is refused (413) by its Content-Length, or while it streams in;
2. the connection must exist with ``webhooks.enabled`` and a secret in its store Connection,
   else 404 (the same answer for both, so names do not leak);
3. the signature is checked in constant time: missing or wrong is 401;
4. the platform's delivery id is remembered in the ledger for a day: a replay is 409;
5. an asset event ``dropstream://<connection>/orders`` is recorded through Airflow's REST API;
   if that fails the delivery is forgotten again and the answer is 503, so the store retries.

Nothing else happens here: the orders DAG fetches the orders. No payload is ever logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from dropstream.errors import ConfigurationError, DropStreamError
from dropstream.webhooks import MAX_BODY, SECRET_EXTRA, WebhookRejected, asset_uri, verify

log = logging.getLogger("dropstream.webhooks")
router = APIRouter()


@dataclass(frozen=True, slots=True)
class Target:
    """A connection that takes webhooks: its store platform and its secret."""

    connection: str
    platform: str
    secret: str


class Deliveries(Protocol):
    def remember_delivery(self, connection: str, delivery_id: str, now: datetime) -> bool: ...
    def forget_delivery(self, connection: str, delivery_id: str) -> None: ...


class RecordFailed(Exception):
    """The asset event could not be recorded; the message is safe to log."""


# --- the three collaborators, as FastAPI dependencies (tests swap them) ----------------------
def find_target(connection: str) -> Target | None:
    """The registry's connection ``connection`` if it takes webhooks (runs in the api-server)."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    from dropstream.web import airflow_state

    spec = airflow_state.registry().specs.get(connection)
    if spec is None or not spec.webhooks.enabled:
        return None
    try:
        store = Connection.get_connection_from_secrets(spec.store.conn_id)
    except AirflowNotFoundException:
        log.warning(
            "webhook for connection %s refused: its store Connection %s is missing",
            connection,
            spec.store.conn_id,
        )
        return None
    secret = str(store.extra_dejson.get(SECRET_EXTRA) or "")
    if not secret:
        log.warning(
            "webhook for connection %s refused: Connection %s has no %s in its extra; "
            "enable webhooks again with the setup DAG (docs/webhooks.md)",
            connection,
            spec.store.conn_id,
            SECRET_EXTRA,
        )
        return None
    return Target(connection, spec.store.platform, secret)


class AssetEvents:
    """Records ``dropstream://<connection>/orders`` events through Airflow's REST API, as the
    service user of the Airflow Connection ``dropstream_airflow_api``.

    One client (session and token) per thread of the api-server's pool: a burst of deliveries
    records in parallel. One attempt, a short timeout: a store waits for the answer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._asset_ids: dict[str, int] = {}

    def _client(self) -> Any:
        from dropstream.setup.api import AirflowAPI

        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = AirflowAPI.from_connection(attempts=1, timeout=3)
        return api

    def __call__(self, connection: str, extra: dict[str, Any]) -> None:
        try:
            api = self._client()
            try:
                self._post(api, connection, extra)
            except DropStreamError as exc:
                # A stale token or an asset re-created under a new id: look both up once more.
                if "HTTP 401" not in str(exc) and "HTTP 404" not in str(exc):
                    raise
                api._token = None
                with self._lock:
                    self._asset_ids.pop(connection, None)
                self._post(api, connection, extra)
        except DropStreamError as exc:
            raise RecordFailed(str(exc)) from exc

    def _post(self, api: Any, connection: str, extra: dict[str, Any]) -> None:
        body = {"asset_id": self._asset_id(api, connection), "extra": extra}
        api.request("POST", "/assets/events", json=body)

    def _asset_id(self, api: Any, connection: str) -> int:
        with self._lock:
            if connection in self._asset_ids:
                return self._asset_ids[connection]
        uri = asset_uri(connection)
        found = api.request("GET", "/assets", params={"uri_prefix_pattern": uri, "limit": 100})
        ids = [a["id"] for a in found.get("assets", []) if a.get("uri") == uri]
        if not ids:
            raise ConfigurationError(
                f"Airflow has no asset {uri} yet: the orders DAG of connection {connection} "
                "with webhooks enabled has not been parsed (wait for the dag-processor)"
            )
        with self._lock:
            self._asset_ids[connection] = ids[0]
        return ids[0]


_record = AssetEvents()
_book: list[Deliveries] = []


def deliveries() -> Deliveries:
    """The ledger (one engine for the api-server's life)."""
    if not _book:
        from dropstream.ledger import Ledger

        _book.append(Ledger())
    return _book[0]


def targets() -> Callable[[str], Target | None]:
    return find_target


def recorder() -> Callable[[str, dict[str, Any]], None]:
    return _record


# --- the route ----------------------------------------------------------------------------------
def _refuse(code: int, reason: str, connection: str) -> JSONResponse:
    log.warning("webhook for connection %s refused (HTTP %s): %s", connection, code, reason)
    return JSONResponse({"detail": reason}, status_code=code)


async def _body(request: Request) -> bytes | None:
    """The raw body, or None once it is known to exceed MAX_BODY (it is not read further)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{connection}", status_code=status.HTTP_200_OK)
async def receive_webhook(
    connection: str,
    request: Request,
    find: Annotated[Callable[[str], Target | None], Depends(targets)],
    record: Annotated[Callable[[str, dict[str, Any]], None], Depends(recorder)],
    book: Annotated[Deliveries, Depends(deliveries)],
) -> JSONResponse:
    """Start the connection's orders DAG for an authentic, new delivery; see the module doc."""
    body = await _body(request)
    if body is None:
        return _refuse(413, f"body over {MAX_BODY} bytes", connection)
    try:
        target = await run_in_threadpool(find, connection)
    except DropStreamError as exc:  # the registry cannot be read: the store should retry
        return _refuse(503, f"registry unreadable: {exc}", connection)
    if target is None:
        return _refuse(404, "no connection by that name takes webhooks", connection)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        delivery = verify(target.platform, target.secret, headers, body)
    except WebhookRejected as exc:
        return _refuse(exc.status, exc.reason, connection)
    if not delivery.starts_orders:
        log.info("webhook for connection %s: topic %s ignored", connection, delivery.topic)
        return JSONResponse({"connection": connection, "recorded": False})
    now = datetime.now(UTC)
    try:
        new = await run_in_threadpool(book.remember_delivery, connection, delivery.delivery_id, now)
    except (DropStreamError, SQLAlchemyError) as exc:  # the store retries; the schedule catches up
        return _refuse(503, f"the ledger is unavailable ({type(exc).__name__}): {exc}", connection)
    if not new:
        return _refuse(409, f"delivery {delivery.delivery_id} was already received", connection)
    extra = {
        "topic": delivery.topic,
        "delivery_id": delivery.delivery_id,
        "platform": target.platform,
    }
    try:
        await run_in_threadpool(record, connection, extra)
    except RecordFailed as exc:
        await run_in_threadpool(book.forget_delivery, connection, delivery.delivery_id)
        return _refuse(503, f"not recorded, retry later: {exc}", connection)
    log.info(
        "webhook for connection %s: %s delivery %s starts the orders DAG",
        connection,
        delivery.topic,
        delivery.delivery_id,
    )
    return JSONResponse({"connection": connection, "recorded": True})

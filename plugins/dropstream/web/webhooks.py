"""The webhook receiver: ``POST /dropstream/webhooks/<connection>`` (docs/webhooks.md).

Stores cannot log in to Airflow, so this route alone carries no Airflow authentication: the
platform's signature (``dropstream.webhooks``) is the authentication. In order, before anything
reads the body as data:

1. a body over 1 MiB is refused (413) by its Content-Length, or while it streams in;
2. the connection must exist with ``webhooks.enabled`` and a secret in its store Connection,
   else 404 (the same answer for both, so names do not leak); a found one is kept for
   TARGET_TTL seconds, so a burst does not read the registry and the Connection per delivery;
3. the signature is checked in constant time: missing or wrong is 401;
4. the delivery is recorded in the ledger by the platform's key for it, with the other
   deliveries of the moment in one transaction (``dropstream.web.receipts``); if the ledger
   cannot record it the answer is 503 and the store retries. A repeat of a recorded key is answered
   200 as a duplicate while the platform itself may re-send it, and 409 as a replay after
   that (``dropstream.webhooks.repeat``); either way it starts nothing;
5. the delivery is handed to the ``Announcer`` (``dropstream.web.asset_events``), which records
   the asset event ``dropstream://<connection>/orders`` through Airflow's REST API in the
   background, one at a time per connection; the answer (200) does not wait for it.

Nothing else happens here: the orders DAG fetches the orders. No payload is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from cachetools import TTLCache
from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from dropstream.errors import DropStreamError
from dropstream.web.asset_events import Announcer, AssetEvents
from dropstream.web.receipts import Receipts
from dropstream.webhooks import (
    MAX_BODY,
    SECRET_EXTRA,
    WebhookRejected,
    repeat,
    verify,
)

log = logging.getLogger("dropstream.webhooks")
router = APIRouter()


@dataclass(frozen=True, slots=True)
class Target:
    """A connection that takes webhooks: its store platform and its secret."""

    connection: str
    platform: str
    secret: str


#: Seconds a connection found to take webhooks is kept (a new secret applies after this).
TARGET_TTL = 10.0
_found: TTLCache[str, Target] = TTLCache(maxsize=1024, ttl=TARGET_TTL)
_found_lock = threading.Lock()
# The first deliveries of a burst wait for one lookup instead of each making their own.
_lookup_locks = [threading.Lock() for _ in range(16)]


# --- the three collaborators, as FastAPI dependencies (tests swap them) ----------------------
async def find_target(connection: str) -> Target | None:
    """The registry's connection ``connection`` if it takes webhooks (runs in the api-server).

    Found ones are kept for TARGET_TTL seconds and answered without leaving the event loop; a
    miss is looked up again every time, so a connection just set up is taken at once."""
    with _found_lock:
        found = _found.get(connection)
    if found is not None:
        return found
    return await run_in_threadpool(_find_and_keep, connection)


def _find_and_keep(connection: str) -> Target | None:
    with _lookup_locks[hash(connection) % len(_lookup_locks)]:
        with _found_lock:
            found = _found.get(connection)
        if found is None:
            found = _lookup(connection)
            if found is not None:
                with _found_lock:
                    _found[connection] = found
    return found


def _lookup(connection: str) -> Target | None:
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


_announcer = Announcer(AssetEvents())
_receipts: list[Receipts] = []


# Async, though they block nowhere: FastAPI would run a plain def in a worker thread, three
# extra trips per delivery in a burst.
async def deliveries() -> Receipts:
    """The ledger's writer of deliveries (one engine for the api-server's life)."""
    if not _receipts:
        from dropstream.ledger import Ledger

        _receipts.append(Receipts(Ledger()))  # create_engine does not connect yet
    return _receipts[0]


async def targets() -> Callable[[str], Awaitable[Target | None]]:
    return find_target


async def announcer() -> Announcer:
    return _announcer


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
    find: Annotated[Callable[[str], Awaitable[Target | None]], Depends(targets)],
    receipts: Annotated[Receipts, Depends(deliveries)],
    announce: Annotated[Announcer, Depends(announcer)],
) -> JSONResponse:
    """Start the connection's orders DAG for an authentic, new delivery; see the module doc."""
    body = await _body(request)
    if body is None:
        return _refuse(413, f"body over {MAX_BODY} bytes", connection)
    try:
        target = await find(connection)
    except DropStreamError as exc:  # the registry cannot be read: the store should retry
        return _refuse(503, f"registry unreadable: {exc}", connection)
    if target is None:
        return _refuse(404, "no connection by that name takes webhooks", connection)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        # On the event loop: an HMAC is microseconds for an order (1 MiB at most: milliseconds),
        # less than a trip to a worker thread costs while a burst keeps them all busy.
        delivery = verify(target.platform, target.secret, headers, body)
    except WebhookRejected as exc:
        return _refuse(exc.status, exc.reason, connection)
    if not delivery.starts_orders:
        log.info("webhook for connection %s: topic %s ignored", connection, delivery.topic)
        return JSONResponse({"connection": connection, "recorded": False})
    now = datetime.now(UTC)
    try:
        first = await asyncio.wrap_future(receipts.receive(connection, delivery.delivery_id, now))
    except (DropStreamError, SQLAlchemyError) as exc:  # the store retries; the schedule catches up
        return _refuse(503, f"the ledger is unavailable ({type(exc).__name__}): {exc}", connection)
    if first is not None:
        replay = repeat(target.platform, first, now)
        if replay is not None:
            return _refuse(replay.status, replay.reason, connection)
        log.info(
            "webhook for connection %s: %s delivery %s again, already received at %s; "
            "acknowledged, starts nothing",
            connection,
            delivery.topic,
            delivery.delivery_id,
            f"{first:%H:%M:%S}",
        )
        return JSONResponse({"connection": connection, "recorded": False, "duplicate": True})
    announce.announce(connection, target.platform, delivery.topic, delivery.delivery_id)
    log.info(
        "webhook for connection %s: %s delivery %s starts the orders DAG",
        connection,
        delivery.topic,
        delivery.delivery_id,
    )
    return JSONResponse({"connection": connection, "recorded": True})

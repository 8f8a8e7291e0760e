"""What a chaos child process runs: one orders or tracking run of one connection, as the
Airflow task would (extract, transform, load), and its own death at a named point.

Children are forked from a fork server that has imported all of this once (``preload``), so a
child starts in milliseconds and a SIGKILL kills a real process with real sockets open: the SFTP
session, the PostgreSQL connections, the HTTP connection to the store. The parent may also kill
a child at a random moment. A child writes its result file (atomically) only when it succeeds.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import threading
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import airflow.providers.sftp.hooks.sftp  # noqa: F401
import psycopg  # noqa: F401
from airflow.sdk import BaseHook  # noqa: F401

# Imported here, once, by the fork server: what the runs would otherwise import lazily, per
# child (the SFTP provider hook and paramiko, the Shopify adapter, the PostgreSQL driver).
import adapters.shopify  # noqa: F401
import dropstream.transports.sftp  # noqa: F401
from adapters import get_adapter
from dropstream.flows import orders, tracking
from dropstream.flows.context import RunContext, SharedFolder
from dropstream.formats import get_format
from dropstream.ledger import Ledger
from dropstream.spec import parse_spec
from dropstream.transports import get_transport

#: Named points of the publish protocol where a child kills itself.
ORDER_POINTS = (
    "before_stage",
    "mid_upload",
    "after_stage",
    "after_committing",
    "after_rename",
    "after_published",
)
#: Named points of the tracking load.
TRACKING_POINTS = ("before_push", "after_push", "after_pushed")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(obj: Any, method: str, when: Any = None) -> None:
    """Make ``obj.method`` die right after it returned (when ``when(args)`` holds)."""
    real = getattr(obj, method)

    @wraps(real)
    def dying(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if when is None or when(*args, **kwargs):
            die()
        return result

    setattr(obj, method, dying)


def _before(obj: Any, method: str) -> None:
    """Make ``obj.method`` die before it runs."""
    real = getattr(obj, method)

    @wraps(real)
    def dying(*args: Any, **kwargs: Any) -> Any:
        die()
        return real(*args, **kwargs)

    setattr(obj, method, dying)


def arm(point: str | None, ledger: Ledger, transport: Any, adapter: Any) -> None:
    if point == "before_stage":
        _before(transport, "stage")
    elif point == "mid_upload":  # over a throttled link the upload takes over a second
        real = transport.stage

        def staging(folder: str, name: str, data: bytes) -> str:
            transport.exists(folder)  # log in first: the kill must land in the upload itself
            threading.Timer(random.uniform(0.2, 0.9), die).start()
            return real(folder, name, data)

        transport.stage = staging
    elif point == "after_stage":
        _after(transport, "stage")
    elif point == "after_committing":
        _after(ledger, "mark_file_committing")
    elif point == "after_rename":
        _after(transport, "commit")
    elif point == "after_published":
        _after(ledger, "mark_file_published")
    elif point == "before_push":
        _before(adapter, "push_shipments")
    elif point == "after_push":
        _after(adapter, "push_shipments")
    elif point == "after_pushed":
        _after(ledger, "set_shipment_state", lambda _c, _s, state, *a, **k: state == "pushed")
    elif point is not None:
        raise ValueError(point)


def run(command: dict[str, Any], result_path: str) -> None:
    """Run one command (in a forked child); write the result file only on success."""
    os.environ.update(command["env"])
    logging.basicConfig(level=logging.WARNING)
    spec = parse_spec(command["spec"]["name"], command["spec"])
    ledger = Ledger(command["env"]["DROPSTREAM_LEDGER_URL"])
    now = datetime.now(UTC)
    step = RunContext(spec=spec, ledger=ledger, now=now, run=command["run"])
    fmt = get_format(spec.warehouse.format.name, spec.warehouse.format.options)
    transport = get_transport(spec.warehouse.protocol, command["warehouse_conn_id"])
    adapter = get_adapter(spec.store.platform, spec.store.conn_id, connection_name=spec.name)
    arm(command.get("kill_at"), ledger, transport, adapter)
    try:
        if command["flow"] == "orders":
            since = datetime.fromisoformat(command["since"])
            until = datetime.fromisoformat(command["until"])
            watermark = ledger.watermark(spec.name, "orders")
            backlog = spec.start_date if watermark is None else None
            counts = orders.extract(step, adapter, since, until, backlog_since=backlog)
            counts |= orders.transform(step, fmt)
            counts |= orders.load(step, transport, fmt, until)
        else:
            folder = SharedFolder.alone(step, spec.warehouse.paths.shipments)
            counts = tracking.extract(step, transport, fmt, folder)
            counts |= tracking.transform(step, folder)
            counts |= tracking.load(step, adapter, transport, folder)
    finally:
        transport.close()
        adapter.close()
        ledger.close()
    partial = Path(result_path + ".tmp")
    partial.write_text(json.dumps(counts, default=str))
    partial.rename(result_path)

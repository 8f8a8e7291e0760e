"""The asset events that webhook deliveries stand for, coalesced: one in flight per connection.

The receiver answers the store once a delivery is in the ledger, and hands it to
``Announcer.announce``. The asset event ``dropstream://<connection>/orders`` is recorded
through Airflow's REST API in the background, by one thread per connection that has deliveries
waiting: a burst of 100 deliveries becomes a few events, not 100 REST calls (the scheduler
would have folded them into one run anyway; recording each one was what made a burst time out).

No delivery is left without an event after it. ``announce`` adds the delivery to its
connection's waiting list; the thread takes the *whole* list before it records the event that
covers it, so a delivery announced while an event is being recorded stays on the list, and the
thread records one more event before it ends. An event recorded after a delivery makes the
scheduler start, or keep queued (``max_active_runs`` 1), an orders run that fetches from the
watermark to a moment after the delivery, hence after its order was placed.

If recording keeps failing (the REST API down, the asset not parsed yet) the thread retries for
``retry_for`` seconds, then logs an error and drops the batch: the next scheduled orders run
fetches those orders. Deliveries still waiting when the api-server stops are left to the
schedule in the same way.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from dropstream.errors import ConfigurationError, DropStreamError
from dropstream.webhooks import asset_uri

log = logging.getLogger("dropstream.webhooks")

#: How long a batch's event is retried before it is left to the schedule (seconds).
RETRY_FOR = 600.0
#: Delivery keys carried in an event's extra (the count is always there).
MAX_KEYS = 50


class RecordFailed(Exception):
    """The asset event could not be recorded; the message is safe to log."""


class AssetEvents:
    """Records ``dropstream://<connection>/orders`` events through Airflow's REST API, as the
    service user of the Airflow Connection ``dropstream_airflow_api``.

    Clients (session and token) are kept in a pool and reused by whichever thread records next.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._clients: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._asset_ids: dict[str, int] = {}

    def __call__(self, connection: str, extra: dict[str, Any]) -> None:
        try:
            api = self._clients.get_nowait()
        except queue.Empty:
            from dropstream.setup.api import AirflowAPI

            try:
                api = AirflowAPI.from_connection(attempts=1, timeout=self.timeout)
            except DropStreamError as exc:
                raise RecordFailed(str(exc)) from exc
        try:
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
        finally:
            self._clients.put(api)

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


class Announcer:
    """Turns deliveries into asset events, at most one being recorded per connection."""

    def __init__(
        self,
        record: Callable[[str, dict[str, Any]], None],
        *,
        retry_for: float = RETRY_FOR,
        wait_max: float = 30.0,
    ) -> None:
        self._record = record
        self.retry_for, self.wait_max = retry_for, wait_max
        self._idle = threading.Condition()
        self._waiting: dict[str, list[tuple[str, str, str]]] = {}  # (platform, topic, key)
        self._busy: set[str] = set()

    def announce(self, connection: str, platform: str, topic: str, key: str) -> None:
        """Ask for an asset event recorded after this delivery (never blocks)."""
        with self._idle:
            self._waiting.setdefault(connection, []).append((platform, topic, key))
            if connection in self._busy:
                return  # the running thread takes it in its next round
            self._busy.add(connection)
        threading.Thread(
            target=self._drain,
            args=(connection,),
            name=f"dropstream-events-{connection}",
            daemon=True,  # what is waiting at shutdown is left to the schedule (module doc)
        ).start()

    def wait_idle(self, timeout: float) -> bool:
        """Until no event is waiting or being recorded; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout)

    def _drain(self, connection: str) -> None:
        while True:
            with self._idle:
                batch = self._waiting.pop(connection, [])
                if not batch:
                    self._busy.discard(connection)
                    self._idle.notify_all()
                    return
            self._record_batch(connection, batch)

    def _record_batch(self, connection: str, batch: list[tuple[str, str, str]]) -> None:
        extra = {
            "platform": batch[0][0],
            "deliveries": len(batch),
            "topics": sorted({topic for _, topic, _ in batch}),
            "delivery_ids": [key for _, _, key in batch[:MAX_KEYS]],
        }
        retrying = Retrying(
            retry=retry_if_exception_type(RecordFailed),
            stop=stop_after_delay(self.retry_for),
            wait=wait_exponential(multiplier=0.5, max=self.wait_max),
            reraise=True,
        )
        try:
            retrying(self._record, connection, extra)
        except RecordFailed as exc:
            log.error(
                "webhooks for connection %s: %d deliveries started no orders run, the asset "
                "event could not be recorded for %.0fs (%s); the next scheduled orders run "
                "fetches their orders. Check the Airflow Connection dropstream_airflow_api",
                connection,
                len(batch),
                self.retry_for,
                exc,
            )
            return
        except Exception:  # a bug must not leave the connection marked busy forever
            log.exception("webhooks for connection %s: asset event failed", connection)
            return
        log.info(
            "webhooks for connection %s: %d deliveries recorded as one asset event %s",
            connection,
            len(batch),
            asset_uri(connection),
        )

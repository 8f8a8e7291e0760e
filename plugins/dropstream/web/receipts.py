"""Webhook deliveries into the ledger, many to a transaction (group commit).

Every delivery must be in the ledger before the store gets its 2xx, and a commit is a disk
flush: one transaction per delivery made the 100 deliveries of a burst wait on each other's
flush (about 0.7 s for the last one on a SQLite ledger here). ``Receipts`` hands each delivery
to one writer thread, which records whatever has queued up while it was writing in a single
transaction (``WebhookBook.receive_deliveries``); the route awaits the delivery's future, so
no worker thread waits on the ledger either.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol

#: Deliveries recorded in one transaction at most.
MAX_BATCH = 500


class Book(Protocol):
    def receive_deliveries(
        self, deliveries: Sequence[tuple[str, str, datetime]]
    ) -> list[datetime | None]: ...


_Item = tuple[str, str, datetime, "Future[datetime | None]"]


class Receipts:
    """``receive(connection, key, now)``: a future of ``WebhookBook.receive_delivery``'s answer."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def receive(self, connection: str, key: str, now: datetime) -> Future[datetime | None]:
        answer: Future[datetime | None] = Future()
        self._queue.put((connection, key, now, answer))
        with self._lock:  # started on first use: never before the api-server forks its workers
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="dropstream-webhook-receipts", daemon=True
                )
                self._writer.start()
        return answer

    def close(self) -> None:
        """Stop the writer once what is queued is written."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout=10)

    def _write(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                results = self.book.receive_deliveries([item[:3] for item in batch])
            except Exception as exc:  # every delivery of the batch gets the error (503)
                for *_, answer in batch:
                    answer.set_exception(exc)
                continue
            for (*_, answer), result in zip(batch, results, strict=True):
                answer.set_result(result)

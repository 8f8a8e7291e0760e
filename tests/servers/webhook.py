"""A chat-style webhook receiver on loopback, for the Apprise alerts.

Apprise's ``json://host:port/path`` service POSTs each notification as JSON (``title``,
``message``, ``type``) to ``http://host:port/path``: the same shape of traffic as a Slack or
Teams incoming webhook, without leaving the machine. ``apprise_webhook`` records what arrived per
path, can be told to refuse (``status``), and exposes two services to DropStream as the Airflow
Connection ``dropstream_apprise``, tagged ``ops`` and ``sales``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.servers._http import LoopbackServer


@dataclass
class WebhookReceiver:
    url: str = ""
    status: int = 200  # what the receiver answers; 500 = the service is down
    posts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handle(self, method: str, path: str, _query: Any, _headers: Any, body: bytes):
        if method != "POST":
            return 405, {"error": "POST only"}, {}
        if self.status != 200:
            return self.status, {"error": "unavailable"}, {}
        with self._lock:
            self.posts.setdefault(path, []).append(json.loads(body))
        return 200, {"ok": True}, {}

    def received(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.posts.get(path, []))

    def connection_json(self) -> str:
        host = self.url.removeprefix("http://")
        return json.dumps(
            {
                "conn_type": "apprise",
                "extra": {
                    "config": [
                        {"path": f"json://{host}/hooks/ops", "tag": "ops"},
                        {"path": f"json://{host}/hooks/sales", "tag": "sales"},
                    ]
                },
            }
        )


@pytest.fixture(scope="session")
def webhook_server() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = LoopbackServer(receiver.handle)
    receiver.url = server.url
    server.start()
    try:
        yield receiver
    finally:
        server.stop()


@pytest.fixture
def apprise_webhook(webhook_server: WebhookReceiver, monkeypatch) -> WebhookReceiver:
    """The receiver, emptied and answering 200, as the Connection ``dropstream_apprise``."""
    with webhook_server._lock:
        webhook_server.posts.clear()
    webhook_server.status = 200
    monkeypatch.setenv("AIRFLOW_CONN_DROPSTREAM_APPRISE", webhook_server.connection_json())
    return webhook_server

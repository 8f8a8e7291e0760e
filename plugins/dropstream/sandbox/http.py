"""A threaded HTTP server on the loopback interface, for the sandbox store and the platform
emulators the tests use.

A handler implements ``handle(method, path, query, headers, body) -> (status, payload,
headers)``; payload ``None`` sends no body (204), ``bytes`` are sent as they are (the handler sets
``Content-Type``), anything else is sent as JSON. With ``raw_target=True`` it implements
``handle(method, target, headers, body)`` instead and gets the request target unsplit (path and
query string), to parse and log it itself.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, Any, dict[str, str]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


JSON = "application/json; charset=UTF-8"
#: How often ``serve_forever`` checks for ``shutdown``: a teardown waits up to this long.
POLL_INTERVAL = 0.01


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default`` for emulator payloads: a ``Decimal`` is sent as a number."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


class LoopbackServer:
    """``ThreadingHTTPServer`` on 127.0.0.1:0 dispatching every method to ``handle``.

    ``content_type`` labels JSON answers; ``json_default`` is ``json.dumps``'s ``default``.
    """

    def __init__(
        self,
        handle: Callable[..., Reply],
        *,
        raw_target: bool = False,
        content_type: str = JSON,
        json_default: Callable[[Any], Any] | None = json_default,
        port: int = 0,
    ) -> None:
        handler = _handler(handle, raw_target, content_type, json_default)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_INTERVAL,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(
    handle: Callable[..., Reply],
    raw_target: bool,
    content_type: str,
    json_default: Callable[[Any], Any] | None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body are two writes: without this, Nagle + delayed ACK cost 40 ms each.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if raw_target:
                status, payload, headers = handle(self.command, self.path, self.headers, body)
            else:
                split = urlsplit(self.path)
                query = parse_qs(split.query, keep_blank_values=True)
                status, payload, headers = handle(
                    self.command, split.path, query, self.headers, body
                )
            if isinstance(payload, bytes):
                data = payload
            else:
                data = (
                    b"" if payload is None else json.dumps(payload, default=json_default).encode()
                )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if payload is not None and "Content-Type" not in headers:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler

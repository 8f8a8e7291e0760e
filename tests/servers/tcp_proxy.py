"""A small threaded TCP forwarder on loopback that a test can tell to cut the line.

Tests point a transport's connection at ``proxy.host:proxy.port`` instead of the real server's
port. ``cut_after(n)`` arms a cut: once ``n`` more bytes went upstream (client -> server, summed
over every connection), the proxy forwards no further byte, resets every open connection and
refuses new ones (accept, then reset) until ``restore()``, like a link that went down mid-upload.
``cut()`` does the same at once, e.g. when a test watches an upload grow on the server's disk.
``throttle(rate)`` slows the upstream direction to ``rate`` bytes per second (a slow link).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

_CHUNK = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` abruptly (RST, no FIN), waking any thread blocked on it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TCPProxy:
    """Forward 127.0.0.1:<port> to ``target``; count connections and bytes; cut on demand."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._budget: int | None = None  # upstream bytes left before the armed cut
        self.refusing = False
        self.connections = 0  # connections accepted and forwarded
        self.upstream_bytes = 0
        self.was_cut = threading.Event()
        self._rate: float | None = None  # upstream bytes per second, when throttled
        self._closed = False
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()

    # -- what tests call -----------------------------------------------------------------

    def cut_after(self, upstream_bytes: int) -> None:
        """Cut every connection once ``upstream_bytes`` more bytes have gone upstream."""
        with self._lock:
            self._budget = upstream_bytes

    def throttle(self, bytes_per_second: float | None) -> None:
        """Let at most ``bytes_per_second`` go upstream (None: full speed)."""
        self._rate = bytes_per_second

    def cut(self) -> None:
        """Reset every open connection now and refuse new ones until ``restore()``."""
        with self._lock:
            self.refusing = True
            self._budget = None
            victims, self._open = list(self._open), set()
        for sock in victims:
            _reset(sock)
        self.was_cut.set()

    def restore(self) -> None:
        """Accept and forward connections again."""
        with self._lock:
            self.refusing = False
            self._budget = None
        self.was_cut.clear()

    def close(self) -> None:
        self._closed = True
        self.cut()
        _reset(self._listener)

    # -- forwarding ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self.connections += 1
                self._open.update((client, server))
            for source, sink, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, upstream), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(_CHUNK if not (upstream and self._rate) else 1024):
                if upstream and self._rate:
                    time.sleep(len(data) / self._rate)
                cut_now = False
                if upstream:
                    with self._lock:
                        if self._budget is not None and len(data) >= self._budget:
                            data, cut_now = data[: self._budget], True
                        elif self._budget is not None:
                            self._budget -= len(data)
                        self.upstream_bytes += len(data)
                if data:
                    sink.sendall(data)
                if cut_now:
                    self.cut()
                    return
        except OSError:
            pass
        # One side finished or broke: end both, as a real link would look from each end.
        with self._lock:
            self._open.difference_update((source, sink))
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[str, int], TCPProxy]]:
    """Factory: ``tcp_proxy(host, port)`` starts a proxy to that server; all closed after."""
    proxies: list[TCPProxy] = []

    def start(host: str, port: int) -> TCPProxy:
        proxy = TCPProxy(host, port)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()

"""Per-protocol adapters for ``test_conformance.py``: how to reach and look behind each server.

File servers (sshd, pyftpdlib) serve a local directory, ``server.root``, so seeding and
inspecting is plain file I/O there; the S3 server is seeded and inspected with its own boto3
client. A mid-upload cut goes through ``tests/servers/tcp_proxy.py``:

- SFTP and S3: the proxy stands in front of the only port and cuts after N upstream bytes.
- FTP/FTPS: the proxy stands in front of the control port, but in passive mode the file travels
  on a data connection the server opens on another port, which the client dials directly (and
  for FTPS the ``227`` reply naming that port is encrypted, so the proxy cannot rewrite it).
  The cut is therefore triggered server-side: a watcher sees the upload grow past N bytes on the
  server's disk and cuts the control connection; pyftpdlib then closes the data connection
  mid-transfer, as a server does when its control session dies, and the proxy refuses to
  reconnect until restored.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.servers.tcp_proxy import TCPProxy

_WATCH_SECONDS = 60


@dataclass(frozen=True)
class Protocol:
    """Defaults fit a server that serves the local directory ``server.root``."""

    name: str
    fixture: str
    transport_module: str
    marks: Sequence[pytest.MarkDecorator] = field(default=())

    def check_available(self) -> None:
        # Every protocol in the registry must have its transport: a missing one fails here.
        assert importlib.util.find_spec(self.transport_module) is not None, self.transport_module

    def connection_json(self, server: Any, conn_id: str, **overrides: Any) -> str:
        return server.connection_json(conn_id, **overrides)

    # -- behind the transport's back ------------------------------------------------------

    def put(self, server: Any, path: str, data: bytes) -> None:
        target = server.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def get(self, server: Any, path: str) -> bytes | None:
        target = server.root / path.lstrip("/")
        return target.read_bytes() if target.is_file() else None

    def names(self, server: Any, folder: str) -> list[str]:
        directory = server.root / folder.lstrip("/")
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

    def seed_in_order(self, server: Any, folder: str, names: Sequence[str]) -> None:
        """Write files oldest first, a minute apart (whole seconds survive every listing)."""
        base = int(time.time()) - 3600
        for age, name in enumerate(reversed(names)):
            self.put(server, f"{folder}/{name}", name.encode())
            path = server.root / folder.lstrip("/") / name
            os.utime(path, (base - 60 * age, base - 60 * age))

    # -- connection variants --------------------------------------------------------------

    def address(self, server: Any) -> tuple[str, int]:
        return server.host, server.port

    def via(self, server: Any, proxy: TCPProxy) -> dict[str, Any]:
        return {"host": proxy.host, "port": proxy.port}

    def wrong_credentials(self, server: Any) -> dict[str, Any]:
        return {"password": "not-the-password"}

    def login_attempts(self, server: Any) -> int | None:
        """Logins the server saw so far (successful or refused), where it can tell."""
        return None

    def arm_cut(self, server: Any, proxy: TCPProxy, after: int) -> threading.Event:
        """Make the next upload die after ``after`` bytes; the event is set once it did."""
        proxy.cut_after(after)
        return proxy.was_cut


class SFTP(Protocol):
    def wrong_credentials(self, server: Any) -> dict[str, Any]:
        from tests.servers.sshd import new_ed25519_key

        return {"private_key": new_ed25519_key()[0]}  # a key the server does not know

    def login_attempts(self, server: Any) -> int | None:
        return server.log().count("Connection from ")


class FTP(Protocol):
    def login_attempts(self, server: Any) -> int | None:
        return server.logins + server.failed_logins

    def arm_cut(self, server: Any, proxy: TCPProxy, after: int) -> threading.Event:
        inbound = server.root / "in"

        def watch() -> None:
            deadline = time.monotonic() + _WATCH_SECONDS
            while time.monotonic() < deadline and not proxy.was_cut.is_set():
                sizes = [p.stat().st_size for p in inbound.iterdir() if p.is_file()]
                if any(size >= after for size in sizes):
                    proxy.cut()
                    return
                time.sleep(0.002)

        threading.Thread(target=watch, name="ftp-cut-watch", daemon=True).start()
        return proxy.was_cut


class S3(Protocol):
    def put(self, server: Any, path: str, data: bytes) -> None:
        server.put(path, data)

    def get(self, server: Any, path: str) -> bytes | None:
        client = server.client()
        try:
            return server.get(path)
        except client.exceptions.NoSuchKey:
            return None

    def names(self, server: Any, folder: str) -> list[str]:
        """Direct children of the folder's prefix, without its zero-byte folder marker."""
        prefix = folder.strip("/") + "/"
        rests = (key[len(prefix) :] for key in server.keys(prefix))
        return sorted(rest for rest in rests if rest and "/" not in rest)

    def seed_in_order(self, server: Any, folder: str, names: Sequence[str]) -> None:
        """PUT oldest first; S3 keeps LastModified to the second, so a second apart."""
        for i, name in enumerate(names):
            if i:
                time.sleep(1.05)
            self.put(server, f"{folder}/{name}", name.encode())

    def address(self, server: Any) -> tuple[str, int]:
        return "127.0.0.1", server.port

    def via(self, server: Any, proxy: TCPProxy) -> dict[str, Any]:
        return {"endpoint_url": f"http://{proxy.host}:{proxy.port}"}

    def wrong_credentials(self, server: Any) -> dict[str, Any]:
        return {"password": "not-the-secret-key"}  # a real key id, a wrong secret

    def login_attempts(self, server: Any) -> int | None:
        """Requests the server refused as unauthenticated (every S3 request signs in)."""
        return sum('" 403 ' in line for line in server.request_log())


PROTOCOLS: tuple[Protocol, ...] = (
    SFTP("sftp", "sftp_server", "dropstream.transports.sftp", (pytest.mark.sshd,)),
    S3("s3", "s3_server", "dropstream.transports.s3"),
    FTP("ftp", "ftp_server", "dropstream.transports.ftp"),
    FTP("ftps", "ftps_server", "dropstream.transports.ftp"),
)

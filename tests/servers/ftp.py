"""Real pyftpdlib FTP and FTPS servers on loopback ports, for the FTP transport tests.

One server of each kind per test session, run by a background thread; every test gets the
warehouse folders ``/in``, ``/out`` and ``/archive`` emptied again and the recorded events
cleared. The login's home is ``server.root``, so remote paths look like a 3PL's
(``/in/ord_1.csv``) while tests inspect and seed the same files locally.

``ftps_server`` speaks explicit TLS (``AUTH TLS``) and refuses to log in or move data without
it (``tls_control_required = tls_data_required = True``). Its certificate, for ``127.0.0.1``
and ``localhost``, is signed by a throwaway CA made at test time; ``ca_cert_pem`` is that CA.

The servers record what a warehouse operator could see in their logs: logins, refused logins
and, per data connection, whether it was TLS and whether it resumed the control connection's
TLS session (``server.data_channels``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from dropstream.transports.base import Transport

FOLDERS = ("in", "out", "archive")
USERNAME = "acme-3pl"
PASSWORD = "s3cret-Pässword"
_TOP_LEVEL = {"conn_type", "host", "port", "login", "password", "schema", "description"}


@dataclass(frozen=True)
class DataChannel:
    """One data connection as the server saw it."""

    tls: bool
    session_reused: bool


@dataclass
class FTPServer:
    """What a test needs to reach the server and look behind it."""

    host: str
    port: int
    username: str
    password: str
    root: Path
    tls: bool
    ca_cert_pem: str | None  # the throwaway CA that signed the server certificate (ftps only)
    logins: int = 0
    failed_logins: int = 0
    data_channels: list[DataChannel] = field(default_factory=list)
    mlsd: bool = True  # False: answer MLSD/MLST with 502, like servers that lack RFC 3659
    _drop: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def conn_type(self) -> str:
        return "ftps" if self.tls else "ftp"

    def connection_json(self, conn_id: str | None = None, **overrides: Any) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>``; overrides set fields or extras, None drops one."""
        conn: dict[str, Any] = {
            "conn_type": self.conn_type,
            "host": self.host,
            "port": self.port,
            "login": self.username,
            "password": self.password,
        }
        if conn_id:
            conn["description"] = f"DropStream test warehouse {conn_id}"
        extra: dict[str, Any] = {"passive": True, "timeout": 10}
        if self.ca_cert_pem:
            extra["ca_cert"] = self.ca_cert_pem
        for key, value in overrides.items():
            target = conn if key in _TOP_LEVEL else extra
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        conn["extra"] = extra
        return json.dumps(conn)

    def drop_connections(self) -> None:
        """Close every client connection from the server side, like a dropped link."""
        assert self._drop is not None
        self._drop()

    def reset(self) -> None:
        """Empty the home folder, recreate the warehouse folders, forget recorded events."""
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for name in FOLDERS:
            (self.root / name).mkdir()
        self.logins = self.failed_logins = 0
        self.data_channels.clear()
        self.mlsd = True


def ftp_transport_factory(
    server: FTPServer, monkeypatch: pytest.MonkeyPatch, conn_id: str, **overrides: Any
) -> Transport:
    """A transport over a fresh ``AIRFLOW_CONN_<CONN_ID>`` pointing at ``server``."""
    from dropstream.transports import get_transport

    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", server.connection_json(conn_id, **overrides)
    )
    return get_transport(server.conn_type, conn_id)


def make_ca_and_server_cert(base: Path) -> tuple[str, Path, Path]:
    """A throwaway CA and a server certificate it signed: (CA PEM, cert file, key file)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DropStream Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = base / "server.pem", base / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return ca_cert.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


def _handler_class(state: FTPServer, cert_file: Path | None, key_file: Path | None) -> type:
    """A handler class of its own per server: pyftpdlib keeps settings on the class."""
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import DTPHandler, FTPHandler

    authorizer = DummyAuthorizer()
    authorizer.add_user(state.username, state.password, str(state.root), perm="elradfmwMT")

    if cert_file is None:

        class PlainDTP(DTPHandler):
            def __init__(self, sock: Any, cmd_channel: Any) -> None:
                super().__init__(sock, cmd_channel)
                state.data_channels.append(DataChannel(tls=False, session_reused=False))

        base, dtp = FTPHandler, PlainDTP
    else:
        from OpenSSL import SSL
        from OpenSSL._util import lib as openssl
        from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.use_certificate_chain_file(str(cert_file))
        context.use_privatekey_file(str(key_file))
        context.set_options(SSL.OP_NO_SSLv2 | SSL.OP_NO_SSLv3 | SSL.OP_NO_COMPRESSION)
        context.set_session_id(b"dropstream-ftps-test")  # lets data connections resume

        class RecordingTLSDTP(TLS_DTPHandler):
            def __init__(self, sock: Any, cmd_channel: Any) -> None:
                super().__init__(sock, cmd_channel)
                if not cmd_channel._prot:
                    state.data_channels.append(DataChannel(tls=False, session_reused=False))

            def handle_ssl_established(self) -> None:
                reused = bool(openssl.SSL_session_reused(self.socket._ssl))
                state.data_channels.append(DataChannel(tls=True, session_reused=reused))

        class TLSHandler(TLS_FTPHandler):
            ssl_context = context
            tls_control_required = True
            tls_data_required = True
            dtp_handler = RecordingTLSDTP

        base, dtp = TLSHandler, RecordingTLSDTP

    class Handler(base):  # type: ignore[misc, valid-type]
        dtp_handler = dtp
        auth_failed_timeout = 0.2  # pyftpdlib's 3 s delay on a wrong password, shortened

        def on_login(self, username: str) -> None:
            state.logins += 1

        def on_login_failed(self, username: str, password: str) -> None:
            state.failed_logins += 1

        def ftp_MLSD(self, path: str) -> Any:
            if not state.mlsd:
                return self.respond("502 Command not implemented.")
            return super().ftp_MLSD(path)

        def ftp_MLST(self, path: str) -> Any:
            if not state.mlsd:
                return self.respond("502 Command not implemented.")
            return super().ftp_MLST(path)

    Handler.authorizer = authorizer
    return Handler


def _serve(tmp: Path, *, tls: bool) -> Iterator[FTPServer]:
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.servers import FTPServer as Acceptor

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    root = tmp / "home"
    root.mkdir()
    ca_pem, cert_file, key_file = make_ca_and_server_cert(tmp) if tls else (None, None, None)
    state = FTPServer("127.0.0.1", 0, USERNAME, PASSWORD, root, tls, ca_pem)
    state.reset()
    # An IOLoop of its own: the default is a process-wide singleton, and two servers polling
    # it from two threads corrupt each other's TLS sessions (seen as segfaults).
    handler = _handler_class(state, cert_file, key_file)
    acceptor = Acceptor(("127.0.0.1", 0), handler, ioloop=IOLoop())
    state.port = acceptor.address[1]
    stop = threading.Event()

    def drop() -> None:
        dropped = threading.Event()

        def close_clients() -> None:  # runs in the server thread, which owns the handlers
            for channel in list(acceptor.ioloop.socket_map.values()):
                if channel is not acceptor:
                    channel.close()
            dropped.set()

        acceptor.ioloop.call_later(0, close_clients)
        if not dropped.wait(5):
            raise RuntimeError("the test server did not drop its connections")

    state._drop = drop

    def loop() -> None:
        try:
            while not stop.is_set():
                acceptor.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        finally:
            acceptor.close_all()  # in the loop's own thread: the ioloop is not thread-safe

    thread = threading.Thread(target=loop, name=f"pyftpdlib-{state.conn_type}", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError(f"the {state.conn_type} test server thread did not stop")


@pytest.fixture(scope="session")
def ftp_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    yield from _serve(tmp_path_factory.mktemp("ftp"), tls=False)


@pytest.fixture(scope="session")
def ftps_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    yield from _serve(tmp_path_factory.mktemp("ftps"), tls=True)


@pytest.fixture
def ftp_server(ftp_server_session: FTPServer) -> FTPServer:
    """The session's plain FTP server with empty ``/in``, ``/out`` and ``/archive``."""
    ftp_server_session.reset()
    return ftp_server_session


@pytest.fixture
def ftps_server(ftps_server_session: FTPServer) -> FTPServer:
    """The session's explicit-TLS FTP server with empty ``/in``, ``/out`` and ``/archive``."""
    ftps_server_session.reset()
    return ftps_server_session

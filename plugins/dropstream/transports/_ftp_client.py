"""The FTP/FTPS session under the FTP transports: settings, hooks and the TLS client.

The provider's ``FTPHook.get_conn`` sets no timeout and ``FTPSHook.get_conn`` offers no custom
TLS context (and sets the port on the ``ftplib.FTP_TLS`` class, for every user in the
process), so the hooks here override ``get_conn``; everything else is the provider's. The
extras are documented in ``dropstream.transports.ftp``.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.ftp.hooks.ftp import FTPHook, FTPSHook

from dropstream.errors import ConfigurationError

TIMEOUT = 30.0  # seconds, when the connection sets no ``timeout`` extra


class PinMismatch(ssl.SSLError):
    """The server's certificate is not the one pinned in ``cert_fingerprint``."""


@dataclass(frozen=True)
class FTPSettings:
    """The Airflow Connection, validated once."""

    host: str
    port: int
    login: str
    password: str = field(repr=False)
    passive: bool
    encoding: str
    timeout: float
    tls: bool
    ca_cert: str | None = None
    ca_cert_path: str | None = None
    fingerprint: bytes | None = None

    def tls_context(self) -> ssl.SSLContext:
        if self.ca_cert or self.ca_cert_path or not self.fingerprint:
            context = ssl.create_default_context(cafile=self.ca_cert_path, cadata=self.ca_cert)
        else:  # pinned alone: the fingerprint check after the handshake is the verification
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def new_client(self) -> ftplib.FTP:
        if not self.tls:
            return ftplib.FTP(timeout=self.timeout, encoding=self.encoding)  # nosec B321
        client = TLSClient(context=self.tls_context(), timeout=self.timeout, encoding=self.encoding)
        client.fingerprint = self.fingerprint
        return client


class TLSClient(ftplib.FTP_TLS):
    """``FTP_TLS`` that checks a pinned certificate and resumes the TLS session for data."""

    fingerprint: bytes | None = None

    def auth(self) -> str:
        response = super().auth()
        self.check_pin(self.sock)
        return response

    def ntransfercmd(self, cmd: str, rest: Any = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            try:
                control = self.sock
                assert isinstance(control, ssl.SSLSocket)  # prot_p() requires AUTH TLS first
                conn = self.context.wrap_socket(
                    conn, server_hostname=self.host, session=control.session
                )
                self.check_pin(conn)
            except BaseException:
                conn.close()
                raise
        return conn, size

    def check_pin(self, sock: Any) -> None:
        if self.fingerprint is not None:
            presented = hashlib.sha256(sock.getpeercert(binary_form=True)).digest()
            if presented != self.fingerprint:
                raise PinMismatch(hex_fingerprint(presented))


class FTPClientHook(FTPHook):
    """``FTPHook`` whose ``get_conn`` has a timeout, UTF-8 names and, for FTPS, a TLS login."""

    def __init__(self, ftp_conn_id: str, settings: FTPSettings) -> None:
        super().__init__(ftp_conn_id)
        self.settings = settings

    def get_conn(self) -> ftplib.FTP:
        if self.conn is None:
            s = self.settings
            client = s.new_client()
            try:
                client.connect(s.host, s.port)
                if isinstance(client, ftplib.FTP_TLS):
                    client.auth()  # before USER/PASS: the password only ever travels encrypted
                client.login(s.login, s.password)
                if isinstance(client, ftplib.FTP_TLS):
                    client.prot_p()
                client.set_pasv(s.passive)
                if s.encoding.replace("-", "").lower() == "utf8":
                    with contextlib.suppress(ftplib.error_perm):  # some default to Latin-1
                        client.sendcmd("OPTS UTF8 ON")
            except BaseException:
                client.close()
                raise
            self.conn = client
        return self.conn


class FTPSClientHook(FTPClientHook, FTPSHook):
    """``FTPSHook`` with the same ``get_conn``; the settings build the TLS client."""


def read_settings(conn_id: str, conn: Any, *, tls: bool) -> FTPSettings:
    extra = conn.extra_dejson
    problem = f"Airflow Connection '{conn_id}'"
    if not conn.host or not conn.login:
        raise ConfigurationError(f"{problem} needs a host and a login")
    try:
        timeout = float(extra.get("timeout") or TIMEOUT)
        fingerprint = parse_fingerprint(extra.get("cert_fingerprint"))
    except ValueError as exc:
        raise ConfigurationError(f"{problem} has an invalid extra: {exc}") from exc
    passive = str(extra.get("passive", True)).strip().lower() not in {"false", "0", "no", "off"}
    settings = FTPSettings(
        host=conn.host,
        port=int(conn.port or ftplib.FTP_PORT),
        login=conn.login,
        password=conn.password or "",
        passive=passive,
        encoding=extra.get("encoding") or "utf-8",
        timeout=timeout,
        tls=tls,
        ca_cert=extra.get("ca_cert") or None,
        ca_cert_path=extra.get("ca_cert_path") or None,
        fingerprint=fingerprint,
    )
    if tls:
        try:
            settings.tls_context()
        except (ssl.SSLError, OSError) as exc:
            raise ConfigurationError(
                f"{problem}: the ca_cert/ca_cert_path extra is not a readable PEM certificate "
                f"({exc}); paste the CA certificate(s) as PEM text"
            ) from exc
    return settings


def parse_fingerprint(value: str | None) -> bytes | None:
    if not value:
        return None
    digits = value.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    if len(digits) != 64:
        raise ValueError("cert_fingerprint must be a SHA-256 fingerprint ('sha256:AB:CD:…')")
    return bytes.fromhex(digits)


def hex_fingerprint(digest: bytes) -> str:
    return "sha256:" + ":".join(f"{b:02X}" for b in digest)


def certificate_advice(exc: BaseException, where: str, settings: FTPSettings | None) -> str:
    if isinstance(exc, PinMismatch):
        pinned = settings.fingerprint if settings else None
        head = (
            f"the TLS certificate of {where} is not the pinned one: cert_fingerprint says "
            f"{hex_fingerprint(pinned) if pinned else '?'}, the server presented {exc.args[0]}"
        )
    else:
        reason = getattr(exc, "verify_message", "") or str(exc)
        head = f"the TLS certificate of {where} could not be verified ({reason})"
    presented = presented_fingerprint(settings) if settings else None
    seen = f"; it presents {presented}" if presented else ""
    return (
        f"{head}. If the warehouse uses its own CA, put that CA certificate (PEM) in the "
        "connection's ca_cert extra (or its path on the workers in ca_cert_path); to trust "
        "exactly one certificate, confirm its SHA-256 fingerprint with the warehouse and set "
        f"the cert_fingerprint extra to it{seen}"
    )


def presented_fingerprint(settings: FTPSettings) -> str | None:
    """The fingerprint of the certificate the server presents now, without logging in."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = ftplib.FTP_TLS(context=context, timeout=min(settings.timeout, 10))
    try:
        client.connect(settings.host, settings.port)
        client.auth()
        assert isinstance(client.sock, ssl.SSLSocket)
        return hex_fingerprint(hashlib.sha256(client.sock.getpeercert(True) or b"").digest())
    except Exception:
        return None
    finally:
        client.close()

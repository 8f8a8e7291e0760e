"""A real SMTP server (aiosmtpd) on a loopback port, for the alert e-mails.

One server per test session, run by aiosmtpd's own thread. It requires a login (AUTH PLAIN or
LOGIN, without TLS on loopback) like a mail relay would, and keeps every message it accepted,
parsed, with its envelope. ``smtp`` empties the mailbox for each test and exposes the server to
DropStream as the Airflow Connection ``dropstream_smtp`` (an ``AIRFLOW_CONN_*`` variable).
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers._http import free_port

USERNAME = "dropstream-alerts"
PASSWORD = "mail-Password-1"  # smtplib sends logins as ASCII
FROM = "dropstream@acme.example"


@dataclass(frozen=True)
class Mail:
    """One accepted message: its envelope and the parsed message."""

    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """What a reader sees: every text part, HTML tags dropped and entities decoded."""
        parts = [
            part.get_content()
            for part in self.message.walk()
            if part.get_content_maintype() == "text"
        ]
        return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(parts)))

    @property
    def links(self) -> list[str]:
        """The targets of the HTML body's links."""
        return re.findall(
            r'href="([^"]+)"',
            "\n".join(
                part.get_content()
                for part in self.message.walk()
                if part.get_content_type() == "text/html"
            ),
        )


@dataclass
class SMTPServer:
    host: str
    port: int
    username: str = USERNAME
    password: str = PASSWORD
    mails: list[Mail] = field(default_factory=list)
    refused_logins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def connection_json(self, **extra: Any) -> str:
        """JSON for ``AIRFLOW_CONN_DROPSTREAM_SMTP``: this server, its login, no TLS (loopback)."""
        return json.dumps(
            {
                "conn_type": "smtp",
                "host": self.host,
                "port": self.port,
                "login": self.username,
                "password": self.password,
                "extra": {
                    "from_email": FROM,
                    "disable_tls": True,
                    "disable_ssl": True,
                    "retry_limit": 0,
                    "timeout": 10,
                    **extra,
                },
            }
        )

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Mail]:
        """The mails once at least ``count`` have arrived (or whatever came by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received()) < count:
            time.sleep(0.1)
        return self.received()


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, _smtp: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        mail = Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message)  # type: ignore[arg-type]
        with self.server._lock:
            self.server.mails.append(mail)
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    def __call__(self, _smtp: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any):
        if isinstance(data, LoginPassword) and (
            data.login.decode() == self.server.username
            and data.password.decode() == self.server.password
        ):
            return AuthResult(success=True)
        self.server.refused_logins += 1
        return AuthResult(success=False, handled=False)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer("127.0.0.1", free_port())
    controller = Controller(
        _Handler(server),
        hostname=server.host,
        port=server.port,
        authenticator=_Authenticator(server),
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch) -> SMTPServer:
    """The session's SMTP server with an empty mailbox, as Connection ``dropstream_smtp``."""
    with smtp_server._lock:
        smtp_server.mails.clear()
    smtp_server.refused_logins = 0
    monkeypatch.setenv("AIRFLOW_CONN_DROPSTREAM_SMTP", smtp_server.connection_json())
    return smtp_server

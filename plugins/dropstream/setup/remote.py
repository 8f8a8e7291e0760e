"""Test a warehouse and a store with candidate credentials, without registering anything.

The candidate Airflow Connection is handed to the real transport/adapter through an
``AIRFLOW_CONN_<ID>`` environment variable of this task process only: nothing is stored, and
the same code that runs the flows does the checking.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DropStreamError,
    TransientError,
)
from dropstream.transports import get_transport

log = logging.getLogger(__name__)


class CheckFailed(ConfigurationError):
    """One side (``warehouse`` or ``store``) failed its check; the message says why.

    ``fields`` are the form fields to look at (the note names them by their titles).
    """

    def __init__(self, side: str, reason: str, fields: tuple[str, ...] = ()) -> None:
        self.side, self.reason, self.fields = side, reason, fields
        super().__init__(f"{side} check failed: {reason}")


@contextmanager
def candidate_connection(body: dict[str, Any]) -> Iterator[str]:
    """Expose ``body`` as a throwaway Airflow Connection id for the duration of the block."""
    conn_id = f"dropstream_setup_probe_{secrets.token_hex(6)}"
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    fields = {k: v for k, v in body.items() if k != "connection_id" and v not in (None, "")}
    if isinstance(fields.get("extra"), str):
        fields["extra"] = json.loads(fields["extra"])
    os.environ[variable] = json.dumps(fields)
    try:
        yield conn_id
    finally:
        os.environ.pop(variable, None)


def presented_host_key(host: str, port: int) -> Any:
    """The SSH host key the server presents, fetched without logging in."""
    import paramiko

    try:
        sock = socket.create_connection((host, port), timeout=15)
    except OSError as exc:
        raise CheckFailed(
            "warehouse",
            f"host unreachable: cannot connect to {host}:{port} "
            f"({exc.strerror or exc}); check host, port and firewall",
            ("warehouse_host", "warehouse_port"),
        ) from exc
    try:
        with paramiko.Transport(sock) as transport:
            transport.start_client(timeout=15)
            return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise CheckFailed(
            "warehouse",
            f"{host}:{port} does not speak SSH ({exc})",
            ("warehouse_host", "warehouse_port", "warehouse_protocol"),
        ) from exc


def describe_key(key: Any) -> str:
    """``ssh-ed25519 SHA256:…`` as OpenSSH prints a fingerprint."""
    return f"{key.get_name()} {key.fingerprint.split(' ', 1)[-1]}"


def decide_host_key(body: dict[str, Any], pin_presented: bool) -> str:
    """The host key to pin: the configured one if the server presents it, else per the form."""
    extra = body.get("extra") or {}
    key = presented_host_key(body["host"], int(body.get("port") or 22))
    presented = f"{key.get_name()} {key.get_base64()}"
    log.info(
        "warehouse %s:%s presents host key %s", body["host"], body.get("port"), describe_key(key)
    )
    configured = (extra.get("host_key") or "").strip()
    if configured:
        if configured.split()[:2] != presented.split()[:2]:
            raise CheckFailed(
                "warehouse",
                f"host key changed or wrong: the server presents {describe_key(key)} "
                f"('{presented}') but the configured key is '{configured[:60]}…'. Only if the "
                "3PL confirms a new key, paste it into the SFTP host key field",
                ("warehouse_host_key",),
            )
        return configured
    if not pin_presented:
        raise CheckFailed(
            "warehouse",
            f"no host key given: the server presents {describe_key(key)} ('{presented}'). "
            "Confirm the fingerprint with the 3PL, then paste the key into the SFTP host key "
            "field or tick 'Trust the host key the server presents now'",
            ("warehouse_host_key", "warehouse_pin_presented_key"),
        )
    log.info("pinning the presented host key %s (trust on first use)", describe_key(key))
    return presented


def check_warehouse(body: dict[str, Any], protocol: str, folders: dict[str, str]) -> list[str]:
    """Log in, then prove every folder exists and is writable; leave nothing behind.

    ``folders`` maps each folder field of the form to its path. Every folder is tried, and every
    one that fails is reported (one CheckFailed naming all of them). Returns what was proven.
    """
    probe = f"dropstream-setup-probe-{secrets.token_hex(4)}"  # staged as a hidden .part file
    where = body.get("host") or (body.get("extra") or {}).get("bucket") or "the warehouse"
    proven: list[str] = []
    with candidate_connection(body) as conn_id, get_transport(protocol, conn_id) as transport:
        try:
            transport.test()
        except DropStreamError as exc:
            raise CheckFailed("warehouse", _reason(exc), _login_fields(exc, protocol)) from exc
        log.info("logged in to the warehouse %s", where)
        proven.append(f"logged in to {where}")
        by_path: dict[str, list[str]] = {}
        for form_field, path in folders.items():
            by_path.setdefault(path, []).append(form_field)
        failed: list[tuple[tuple[str, ...], str]] = []
        for folder, fields in by_path.items():
            try:
                path = transport.stage(folder, probe, b"")
                transport.discard_staged(folder, probe)
            except DropStreamError as exc:
                failed.append((tuple(fields), _reason(exc)))
                continue
            log.info("folder %s exists and is writable (probe %s removed)", folder, path)
            proven.append(f"folder {folder} is writable")
    if failed:
        raise CheckFailed(
            "warehouse",
            "; ".join(reason for _, reason in failed),
            tuple(f for fields, _ in failed for f in fields),
        )
    return proven


def _login_fields(exc: DropStreamError, protocol: str) -> tuple[str, ...]:
    """The form fields behind a failed login or connection."""
    if isinstance(exc, AuthenticationError):
        if "certificate" in str(exc).lower():
            return ("warehouse_ca_cert", "warehouse_cert_fingerprint")
        secret = (
            ("warehouse_password", "warehouse_private_key")
            if protocol == "sftp"
            else ("warehouse_password",)
        )
        return ("warehouse_login", *secret)
    if protocol == "s3":
        return ("warehouse_bucket", "warehouse_region", "warehouse_endpoint_url")
    return ("warehouse_host", "warehouse_port")


def check_store(body: dict[str, Any], platform: str, name: str) -> list[str]:
    """Credentials accepted and the scopes the three flows need granted; what was proven."""
    from dropstream.setup.targets import STORES
    from dropstream.stores import get_adapter

    target = STORES[platform]
    with candidate_connection(body) as conn_id:
        adapter = get_adapter(platform, conn_id, {}, connection_name=name)
        try:
            adapter.test_connection()
        except DropStreamError as exc:
            if isinstance(exc, TransientError):
                fields: tuple[str, ...] = ("store_url",)
            else:
                credentials = [f for f in target.secret_fields]
                if "store_login" in target.field_mapping:
                    credentials.insert(0, "store_login")
                fields = tuple(credentials)
            raise CheckFailed("store", _reason(exc), fields) from exc
        finally:
            adapter.close()
    log.info("store %s accepted the credentials and grants the needed scopes", body.get("host"))
    return [
        f"{target.display} at {body.get('host')} accepted the credentials and grants "
        "every permission the three flows need"
    ]


_PROBE = re.compile(
    r"\s*\(?(?:in |of )?(?:the )?Airflow Connection '?dropstream_setup_probe_\w+'?\)?"
)


def _reason(exc: DropStreamError) -> str:
    """The error in the words of the person at the form: no internal connection ids."""
    text = _PROBE.sub("", str(exc)).strip()
    if isinstance(exc, AuthenticationError):
        return (
            text
            if text.lower().startswith(("login refused", "host key"))
            else (f"credentials or permissions refused: {text}")
        )
    if isinstance(exc, TransientError):
        return f"unreachable: {text}"
    return text

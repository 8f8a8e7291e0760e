"""SFTP warehouse transport over the Airflow SFTP provider's ``SFTPHook``.

The hook reads the Airflow Connection (host, port, login, password, and the extras
``private_key`` / ``key_file`` / ``private_key_passphrase`` / ``host_key`` / ``conn_timeout``)
and logs in with paramiko; this module uses the hook's paramiko ``SFTPClient`` for what the
hook lacks (rename, stat). Host keys are always verified: pin the server's public key in the
``host_key`` extra (``ssh-ed25519 AAAA...``); ``no_host_key_check`` / ``allow_host_key_change``
are refused. One login per transport object; a dropped link is re-established once.
"""

from __future__ import annotations

import errno
import io
import logging
import posixpath
import socket
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DropStreamError,
    NotFoundError,
    TargetExistsError,
    TransientError,
)
from dropstream.transports._common import archive_targets, get_airflow_connection, newest_first
from dropstream.transports.base import (
    RemoteFile,
    Transport,
    is_candidate,
    join,
    safe_name,
    staging_name,
)

if TYPE_CHECKING:
    from airflow.providers.sftp.hooks.sftp import SFTPHook
    from paramiko import SFTPClient
    from paramiko.pkey import PKey

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT = 15  # seconds, when the connection sets no ``conn_timeout``
IO_TIMEOUT = 120.0  # seconds one SFTP request may wait for the server


class SFTPTransport(Transport):
    """Files to and from a warehouse's SFTP server (Airflow Connection type ``sftp``)."""

    protocol = "sftp"

    def __init__(self, conn_id: str) -> None:
        super().__init__(conn_id)
        self._hook: SFTPHook | None = None
        self._client: SFTPClient | None = None
        self._where = f"Airflow Connection '{conn_id}'"
        self._address = "?"
        self._posix_rename = True

    # -- Transport API ---------------------------------------------------------------------

    def test(self) -> None:
        self._run("list the home folder", ".", lambda c: c.listdir("."))

    def list_files(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        def listing(client: SFTPClient) -> list[RemoteFile]:
            found = []
            for attrs in client.listdir_attr(folder):
                name = attrs.filename
                if not is_candidate(name, pattern):
                    continue
                path = join(folder, name)
                if attrs.st_mode is not None and stat.S_ISLNK(attrs.st_mode):
                    attrs = client.stat(path)  # a link counts as what it points at
                if attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode):
                    continue
                mtime = attrs.st_mtime
                modified = datetime.fromtimestamp(mtime, tz=UTC) if mtime is not None else None
                found.append(RemoteFile(path, name, attrs.st_size or 0, modified))
            return newest_first(found)

        return self._run("list folder", folder, listing)

    def read(self, path: str) -> bytes:
        def fetch(client: SFTPClient) -> bytes:
            buffer = io.BytesIO()
            client.getfo(path, buffer)  # prefetches: pipelined reads for large files
            return buffer.getvalue()

        return self._run("read file", path, fetch)

    def exists(self, path: str) -> bool:
        return self._run("look for file", path, lambda c: _is_file(c, path))

    def stage(self, folder: str, name: str, data: bytes) -> str:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        path = join(folder, staging_name(name))
        # "wb" truncates a leftover from an earlier attempt; confirm=True checks the size landed.
        self._run(
            "upload to folder",
            folder,
            lambda c: c.putfo(io.BytesIO(data), path, file_size=len(data), confirm=True),
        )
        return path

    def commit(self, folder: str, name: str) -> str:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        staged, final = join(folder, staging_name(name)), join(folder, name)

        def rename(client: SFTPClient) -> str:
            staged_there, final_there = _is_file(client, staged), _is_file(client, final)
            if not staged_there:
                if final_there:
                    return final  # an earlier commit renamed it: nothing left to do
                raise NotFoundError(
                    f"nothing staged to commit: {staged} is missing and {final} does not exist "
                    f"on {self._where}; stage the file again"
                )
            if final_there:
                raise TargetExistsError(
                    f"{final} already exists on {self._where}; the staged upload was left "
                    f"at {staged}: the next attempt compares them"
                )
            self._rename(client, staged, final)
            return final

        return self._run("publish file", final, rename)

    def discard_staged(self, folder: str, name: str) -> bool:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        staged = join(folder, staging_name(name))

        def remove(client: SFTPClient) -> bool:
            try:
                client.remove(staged)
            except FileNotFoundError:
                return False
            return True

        return self._run("remove staged upload", staged, remove)

    def archive(self, path: str, folder: str) -> str:
        name = safe_name(posixpath.basename(path), where=f"to archive on {self._where}")

        def move(client: SFTPClient) -> str:
            if not _is_file(client, path):
                raise NotFoundError(f"cannot archive {path}: no such file on {self._where}")
            _makedirs(client, folder)
            for target in archive_targets(folder, name):
                if _exists(client, target):
                    continue
                try:
                    client.rename(path, target)  # plain SFTP rename never replaces a file
                except OSError:
                    if _exists(client, target):  # taken meanwhile: try the next suffix
                        continue
                    raise
                return target
            raise ConfigurationError(f"{folder} on {self._where} holds {name} too often")

        return self._run("archive into folder", folder, move)

    def close(self) -> None:
        client, self._client = self._client, None
        hook = self._hook
        for closable in (client, hook.client if hook else None):
            if closable is not None:
                try:
                    closable.close()
                except Exception:  # already broken: closing is best effort
                    log.debug("closing SFTP link for %s failed", self.conn_id, exc_info=True)
        if hook is not None:
            hook.conn = None
            hook.client = None

    # -- connection and error handling ---------------------------------------------------

    def _run(self, action: str, path: str, operation: Callable[[SFTPClient], T]) -> T:
        """Run ``operation`` on a live client; reconnect once if the link had dropped."""
        for attempt in (1, 2):
            client = self._connect()
            try:
                return operation(client)
            except DropStreamError:
                raise
            except Exception as exc:
                if attempt == 1 and _is_link_error(exc):
                    log.warning("SFTP link to %s dropped (%s); reconnecting", self._where, exc)
                    self.close()
                    continue
                raise self._translate(exc, action, path) from exc
        raise AssertionError("unreachable")

    def _connect(self) -> SFTPClient:
        if self._client is not None:
            transport = self._client.get_channel().get_transport()
            if transport is not None and transport.is_active():
                return self._client
            self.close()
        hook = self._hook or self._make_hook()
        try:
            client = hook.get_conn()
        except Exception as exc:
            self.close()
            raise self._translate(exc, "log in", "") from exc
        client.get_channel().settimeout(IO_TIMEOUT)
        self._client = client
        log.info("logged in to %s as %s", self._where, hook.username)
        return client

    def _make_hook(self) -> SFTPHook:
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        get_airflow_connection(self.conn_id, "sftp")  # missing, or Airflow did not answer
        try:
            # One connect attempt: Airflow task retries own the retry policy, and a refused
            # password must fail fast instead of three times with sleeps in between.
            hook = SFTPHook(ssh_conn_id=self.conn_id, conn_retry_attempts=1)
        except Exception as exc:
            raise ConfigurationError(
                f"Airflow Connection '{self.conn_id}' is invalid: {exc}"
            ) from exc
        if hook.no_host_key_check or hook.allow_host_key_change:
            raise ConfigurationError(
                f"Airflow Connection '{self.conn_id}' turns host key checking off; remove the "
                "no_host_key_check/allow_host_key_change extras and pin the key in host_key"
            )
        hook.conn_timeout = hook.conn_timeout or CONNECT_TIMEOUT
        hook.auth_timeout = hook.auth_timeout or CONNECT_TIMEOUT
        self._address = f"{hook.remote_host}:{hook.port}"
        self._where = f"{self._address} (Airflow Connection '{self.conn_id}')"
        self._hook = hook
        return hook

    def _rename(self, client: SFTPClient, source: str, target: str) -> None:
        if self._posix_rename:
            try:
                client.posix_rename(source, target)
                return
            except OSError as exc:
                if exc.errno is not None or "unsupported" not in str(exc).lower():
                    raise
                self._posix_rename = False  # server lacks posix-rename@openssh.com
        client.rename(source, target)

    def _translate(self, exc: BaseException, action: str, path: str) -> DropStreamError:
        import paramiko

        hook, where = self._hook, self._where
        user = hook.username if hook else "?"
        what = f"cannot {action} {path} on {where}" if path else f"cannot {action} to {where}"
        if isinstance(exc, paramiko.BadHostKeyException):
            return AuthenticationError(
                f"host key mismatch for {where}: expected {_describe(exc.expected_key)} "
                f"(pinned in the host_key extra) but the server presented {_describe(exc.key)}. "
                "If the warehouse confirms it changed its key, set the connection's host_key "
                f"extra to '{exc.key.get_name()} {exc.key.get_base64()}'; otherwise do not connect"
            )
        if isinstance(exc, paramiko.AuthenticationException):
            return AuthenticationError(
                f"login refused for user {user} on {self._address}: check the password/private "
                f"key in Airflow Connection '{self.conn_id}' ({exc})"
            )
        if isinstance(exc, paramiko.SSHException) and "known_hosts" in str(exc):
            return AuthenticationError(
                f"host key of {where} is not pinned: confirm the server's key fingerprint with "
                "the warehouse and set the connection's host_key extra to it"
                f"{self._presented_key_hint()}"
            )
        if _is_link_error(exc) or isinstance(exc, socket.gaierror):
            return TransientError(f"{what}: server unreachable or link lost ({exc!r}); retry later")
        if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
            return NotFoundError(
                f"{what}: no such file or folder {path}; check that the folder exists on the "
                "server and matches the connection's warehouse paths"
            )
        if isinstance(exc, OSError) and exc.errno == errno.EACCES:
            return ConfigurationError(
                f"{what}: permission denied for user {user}; ask the warehouse to grant access"
            )
        if isinstance(exc, OSError):
            return TransientError(f"{what}: the server reported a failure ({exc}); retry later")
        return ConfigurationError(f"{what}: {exc!r}")

    def _presented_key_hint(self) -> str:
        """The key the server presents now, fetched without logging in (best effort)."""
        import paramiko

        if self._hook is None:
            return ""
        try:
            sock = socket.create_connection((self._hook.remote_host, self._hook.port), timeout=10)
            with paramiko.Transport(sock) as transport:
                transport.start_client(timeout=10)
                key = transport.get_remote_server_key()
        except Exception:
            return ""
        return f"; it presents {_describe(key)}: '{key.get_name()} {key.get_base64()}'"


def _describe(key: PKey) -> str:
    return f"{key.get_name()} {key.fingerprint.split(' ', 1)[-1]}"


def _is_link_error(exc: BaseException) -> bool:
    import paramiko

    if isinstance(exc, paramiko.BadHostKeyException | paramiko.AuthenticationException):
        return False
    if isinstance(exc, paramiko.SSHException) and "known_hosts" in str(exc):
        return False
    # NoValidConnectionsError: every address refused or unreachable (an OSError without errno).
    return isinstance(
        exc,
        EOFError
        | ConnectionError
        | TimeoutError
        | paramiko.SSHException
        | paramiko.ssh_exception.NoValidConnectionsError,
    )


def _stat(client: SFTPClient, path: str) -> Any:
    try:
        return client.stat(path)
    except FileNotFoundError:
        return None


def _exists(client: SFTPClient, path: str) -> bool:
    return _stat(client, path) is not None


def _is_file(client: SFTPClient, path: str) -> bool:
    attrs = _stat(client, path)
    return attrs is not None and not stat.S_ISDIR(attrs.st_mode or 0)


def _makedirs(client: SFTPClient, folder: str) -> None:
    """``mkdir -p``: create ``folder`` and any missing parents."""
    missing = []
    current = posixpath.normpath(folder)
    while current not in {"/", ".", ""} and not _exists(client, current):
        missing.append(current)
        current = posixpath.dirname(current)
    for path in reversed(missing):
        try:
            client.mkdir(path)
        except OSError:
            if not _exists(client, path):  # created meanwhile by someone else is fine
                raise

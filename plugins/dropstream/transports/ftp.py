"""FTP and FTPS warehouse transports over the Airflow FTP provider's ``FTPHook``/``FTPSHook``.

The Airflow Connection (type ``ftp`` or ``ftps``) gives host, port (default 21), login and
password; its extras::

    passive          true (default) | false      passive-mode data connections
    encoding         "utf-8" (default)           file names on the wire
    timeout          30 (default)                seconds for connecting and every reply/transfer
    ca_cert          PEM text of the CA(s) that sign the server certificate   (ftps)
    ca_cert_path     path of such a PEM file on the workers                     (ftps)
    cert_fingerprint "sha256:AB:CD:…"  pins the server certificate exactly      (ftps)

FTPS is explicit TLS (``AUTH TLS`` on the control port, before the password is sent), with the
data channel encrypted too (``PROT P``). The certificate is always verified: against the
system CA store by default, against ``ca_cert``/``ca_cert_path`` when given (host name checked
too). ``cert_fingerprint`` pins the SHA-256 of the server's certificate: alone it replaces the
chain check (a self-signed warehouse certificate), with a CA it is checked in addition. An
unverifiable certificate fails with the fingerprint the server presented, to confirm with the
warehouse. Data connections resume the control connection's TLS session, which vsftpd
(``require_ssl_reuse``) and FileZilla Server insist on. Implicit FTPS (port 990) is not offered.

The provider's ``get_conn`` sets no timeout and offers no custom TLS context, so the hooks in
``_ftp_client`` override it; the rest (store_file, retrieve_file, rename) is the provider's.
One login per transport object; a dropped link is re-established once.
"""

from __future__ import annotations

import ftplib
import io
import logging
import posixpath
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from dropstream.errors import (
    AuthenticationError,
    ConfigurationError,
    DropStreamError,
    NotFoundError,
    TargetExistsError,
    TransientError,
)
from dropstream.transports._common import archive_targets, get_airflow_connection, newest_first
from dropstream.transports._ftp_client import (
    FTPClientHook,
    FTPSClientHook,
    PinMismatch,
    certificate_advice,
    read_settings,
)
from dropstream.transports.base import (
    RemoteFile,
    Transport,
    is_candidate,
    join,
    safe_name,
    staging_name,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class FTPTransport(Transport):
    """Files to and from a warehouse's FTP server (Airflow Connection type ``ftp``)."""

    protocol = "ftp"
    _tls = False

    def __init__(self, conn_id: str) -> None:
        super().__init__(conn_id)
        self._hook: FTPClientHook | None = None
        self._where = f"Airflow Connection '{conn_id}'"
        self._mlsd = True  # until the server says it lacks MLSD/MLST

    # -- Transport API ---------------------------------------------------------------------

    def test(self) -> None:
        # A listing also opens a data connection: passive mode and PROT P problems show here.
        self._run("list the home folder", ".", lambda f: self._entries(f, "."))

    def list_files(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        def listing(ftp: ftplib.FTP) -> list[RemoteFile]:
            return newest_first(
                RemoteFile(join(folder, name), name, size, modified)
                for name, kind, size, modified in self._entries(ftp, folder)
                if kind == "file" and is_candidate(name, pattern)
            )

        return self._run("list folder", folder, listing)

    def read(self, path: str) -> bytes:
        def fetch(ftp: ftplib.FTP) -> bytes:
            buffer = io.BytesIO()
            self._hook_or_fail().retrieve_file(path, buffer)
            return buffer.getvalue()

        return self._run("read file", path, fetch)

    def exists(self, path: str) -> bool:
        return self._run("look for file", path, lambda f: self._kind(f, path) == "file")

    def stage(self, folder: str, name: str, data: bytes) -> str:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        path = join(folder, staging_name(name))

        # STOR replaces a leftover from an earlier attempt; then the size must match.
        def upload(ftp: ftplib.FTP) -> None:
            self._hook_or_fail().store_file(path, io.BytesIO(data))
            if self._size(ftp, path) not in (None, len(data)):
                raise TransientError(f"upload of {path} to {self._where} arrived incomplete")

        self._run("upload to folder", folder, upload)
        return path

    def commit(self, folder: str, name: str) -> str:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        staged, final = join(folder, staging_name(name)), join(folder, name)

        def rename(ftp: ftplib.FTP) -> str:
            staged_there = self._kind(ftp, staged) == "file"
            final_there = self._kind(ftp, final) == "file"
            if not staged_there:
                if final_there:
                    return final  # an earlier commit renamed it: nothing left to do
                raise NotFoundError(
                    f"nothing staged to commit: {staged} is missing and {final} does not exist "
                    f"on {self._where}; stage the file again"
                )
            if final_there:  # RNTO would silently replace it on most servers
                raise TargetExistsError(
                    f"{final} already exists on {self._where}; the staged upload was left "
                    f"at {staged}: the next attempt compares them"
                )
            self._hook_or_fail().rename(staged, final)
            return final

        return self._run("publish file", final, rename)

    def discard_staged(self, folder: str, name: str) -> bool:
        safe_name(name, where=f"for folder {folder!r} on {self._where}")
        staged = join(folder, staging_name(name))

        def remove(ftp: ftplib.FTP) -> bool:
            if self._kind(ftp, staged) != "file":
                return False
            ftp.delete(staged)
            return True

        return self._run("remove staged upload", staged, remove)

    def archive(self, path: str, folder: str) -> str:
        name = safe_name(posixpath.basename(path), where=f"to archive on {self._where}")

        def move(ftp: ftplib.FTP) -> str:
            if self._kind(ftp, path) != "file":
                raise NotFoundError(f"cannot archive {path}: no such file on {self._where}")
            self._makedirs(ftp, folder)
            for target in archive_targets(folder, name):
                if self._kind(ftp, target) is None:
                    self._hook_or_fail().rename(path, target)
                    return target
            raise ConfigurationError(f"{folder} on {self._where} holds {name} too often")

        return self._run("archive into folder", folder, move)

    def close(self) -> None:
        hook, ftp = self._hook, self._hook.conn if self._hook else None
        if hook is not None:
            hook.conn = None
        if ftp is not None:
            try:
                ftp.quit()
            except Exception:  # already broken: closing is best effort
                log.debug("QUIT to %s failed", self._where, exc_info=True)
            ftp.close()

    # -- listing and probing ----------------------------------------------------------------

    def _entries(self, ftp: ftplib.FTP, folder: str) -> list[tuple[str, str, int, datetime | None]]:
        """(name, "file"|"dir"|other, size, modified) for each entry of ``folder``."""
        if self._mlsd:
            try:
                facts = ftp.mlsd(folder, facts=["type", "size", "modify"])
                return [
                    (
                        name,
                        f.get("type", "file").lower(),
                        int(f.get("size") or 0),
                        _timestamp(f.get("modify")),
                    )
                    for name, f in facts
                ]
            except ftplib.error_perm as exc:
                if not _unsupported(exc):
                    raise
                self._mlsd = False
        home = ftp.pwd()
        ftp.cwd(folder)  # 550 here names a missing folder; NLST's errors are ambiguous
        ftp.cwd(home)
        entries = []
        prefix = folder.rstrip("/") + "/"
        for listed in ftp.nlst(folder):
            name = listed.removeprefix(prefix)
            path = join(folder, name)
            size = self._size(ftp, path) if is_candidate(name, "*") else None
            entries.append(
                (
                    name,
                    "file" if size is not None else "other",
                    size or 0,
                    self._mdtm(ftp, path) if size is not None else None,
                )
            )
        return entries

    def _kind(self, ftp: ftplib.FTP, path: str) -> str | None:
        """ "file", "dir" (or another MLST type) or None when nothing is at ``path``."""
        if self._mlsd:
            try:
                lines = ftp.sendcmd(f"MLST {path}").splitlines()
                facts = lines[1].strip().split(" ", 1)[0] if len(lines) > 2 else ""
                kinds = [f[5:] for f in facts.lower().split(";") if f.startswith("type=")]
                return kinds[0] if kinds else "file"
            except ftplib.error_perm as exc:
                if not _unsupported(exc):
                    return None
                self._mlsd = False
        if self._size(ftp, path) is not None:
            return "file"
        try:
            home = ftp.pwd()
            ftp.cwd(path)
            ftp.cwd(home)
            return "dir"
        except ftplib.error_perm:
            return None

    def _size(self, ftp: ftplib.FTP, path: str) -> int | None:
        try:
            ftp.voidcmd("TYPE I")  # listings switch to ASCII, where servers refuse SIZE
            return ftp.size(path)
        except ftplib.error_perm:
            return None  # missing, or a folder

    def _mdtm(self, ftp: ftplib.FTP, path: str) -> datetime | None:
        try:
            return _timestamp(ftp.sendcmd(f"MDTM {path}")[4:])
        except ftplib.error_perm:
            return None

    def _makedirs(self, ftp: ftplib.FTP, folder: str) -> None:
        """``mkdir -p``: create ``folder`` and any missing parents."""
        missing = []
        current = posixpath.normpath(folder)
        while current not in {"/", ".", ""} and self._kind(ftp, current) is None:
            missing.append(current)
            current = posixpath.dirname(current)
        for path in reversed(missing):
            try:
                ftp.mkd(path)
            except ftplib.error_perm:
                if self._kind(ftp, path) != "dir":  # created meanwhile by someone else is fine
                    raise

    # -- connection and error handling ---------------------------------------------------

    def _run(self, action: str, path: str, operation: Callable[[ftplib.FTP], T]) -> T:
        """Run ``operation`` on a live connection; reconnect once if the link had dropped."""
        for attempt in (1, 2):
            ftp = self._connect()
            try:
                return operation(ftp)
            except DropStreamError:
                raise
            except Exception as exc:
                if attempt == 1 and _is_link_error(exc):
                    log.warning("FTP link to %s dropped (%r); reconnecting", self._where, exc)
                    self.close()
                    continue
                raise self._translate(exc, action, path) from exc
        raise AssertionError("unreachable")

    def _connect(self) -> ftplib.FTP:
        hook = self._hook_or_fail()
        if hook.conn is not None:
            return hook.conn
        try:
            ftp = hook.get_conn()
        except Exception as exc:
            raise self._translate(exc, "log in", "") from exc
        log.info("logged in to %s as %s", self._where, hook.settings.login)
        return ftp

    def _hook_or_fail(self) -> FTPClientHook:
        if self._hook is None:
            settings = read_settings(
                self.conn_id, get_airflow_connection(self.conn_id, self.protocol), tls=self._tls
            )
            self._where = f"{settings.host}:{settings.port} (Airflow Connection '{self.conn_id}')"
            self._hook = (FTPSClientHook if self._tls else FTPClientHook)(self.conn_id, settings)
        return self._hook

    def _translate(self, exc: BaseException, action: str, path: str) -> DropStreamError:
        where, s = self._where, self._hook.settings if self._hook else None
        what = f"cannot {action} {path} on {where}" if path else f"cannot {action} to {where}"
        reply = str(exc).strip()
        if isinstance(exc, PinMismatch | ssl.SSLCertVerificationError):
            return AuthenticationError(certificate_advice(exc, where, s))
        if isinstance(exc, ftplib.error_perm) and reply.startswith("530"):
            return AuthenticationError(
                f"login refused for user {s.login if s else '?'} on {where}: check the login and "
                f"password in Airflow Connection '{self.conn_id}' (server said: {reply})"
            )
        if isinstance(exc, ftplib.error_perm) and not path:  # refused before any file work
            return ConfigurationError(
                f"{what}: the server refused the session ({reply}); check the connection type "
                "(ftps for explicit TLS, ftp for plain; implicit FTPS is not supported) and port"
            )
        if isinstance(exc, ftplib.error_perm) and reply.startswith("550"):
            lowered = reply.lower()
            if any(
                word in lowered for word in ("permission", "privilege", "denied", "not allowed")
            ):
                return ConfigurationError(
                    f"{what}: permission denied ({reply}); ask the warehouse to grant access"
                )
            return NotFoundError(
                f"{what}: no such file or folder {path} ({reply}); check that the folder exists "
                "on the server and matches the connection's warehouse paths"
            )
        if _is_link_error(exc) or isinstance(exc, ftplib.error_temp | OSError | EOFError):
            return TransientError(f"{what}: server unreachable or link lost ({exc!r}); retry later")
        return ConfigurationError(f"{what}: {exc!r}")


class FTPSTransport(FTPTransport):
    """FTP over explicit TLS (Airflow Connection type ``ftps``); see the module docstring."""

    protocol = "ftps"
    _tls = True


def _timestamp(value: str | None) -> datetime | None:
    """An MLSD ``modify`` / MDTM time (``YYYYMMDDHHMMSS[.fff]``, UTC) as an aware datetime."""
    if not value:
        return None
    whole, _, fraction = value.strip().partition(".")
    try:
        moment = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (
        moment.replace(microsecond=int((fraction + "000000")[:6])) if fraction.isdigit() else moment
    )


def _unsupported(exc: ftplib.error_perm) -> bool:
    return str(exc)[:3] in {"500", "501", "502", "504"}


def _is_link_error(exc: BaseException) -> bool:
    if isinstance(exc, ssl.SSLCertVerificationError | PinMismatch):
        return False
    if isinstance(exc, ftplib.error_temp):
        return str(exc).startswith("421")  # service closing the control connection
    return isinstance(
        exc, EOFError | ConnectionError | TimeoutError | ssl.SSLEOFError | ssl.SSLZeroReturnError
    )

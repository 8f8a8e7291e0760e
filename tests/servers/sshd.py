"""A real OpenSSH ``sshd`` on a loopback port, serving SFTP only, for the SFTP transport tests.

One server per test session (starting sshd costs ~0.1 s, but keys and config are per session);
every test gets the warehouse folders ``/in``, ``/out`` and ``/archive`` emptied again.

The server chroots the login into a temporary directory (``ChrootDirectory`` +
``ForceCommand internal-sftp``), so remote paths look like a 3PL's (``/in/ord_1.csv``) while
tests inspect and seed the same files locally under ``server.root``. sshd insists that every
component of the chroot path is root-owned and not group/other-writable, so the chroot lives
under ``/run`` or the home directory rather than under the world-writable ``/tmp``.

Login is as the user running the tests (root, which ``ChrootDirectory`` requires), with a
throwaway ed25519 key. Password authentication is switched on so a wrong password is refused
the way a real server refuses it; a *successful* password login is not offered because it would
mean changing the password of a real system account.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.servers._http import free_port

SSHD = Path("/usr/sbin/sshd")
FOLDERS = ("in", "out", "archive")
_TOP_LEVEL = {"conn_type", "host", "port", "login", "password", "schema", "description"}


def new_ed25519_key() -> tuple[str, str]:
    """A fresh ed25519 key pair: (private key in OpenSSH format, ``ssh-ed25519 AAAA...`` line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public


@dataclass
class SFTPServer:
    """What a test needs to reach the server and look behind it."""

    host: str
    port: int
    username: str
    private_key: str  # OpenSSH-format private key text, for the ``private_key`` extra
    host_key: str  # "ssh-ed25519 AAAA...", the format of the provider's ``host_key`` extra
    root: Path  # local path of the chroot: root / "in", root / "out", root / "archive"
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    def connection_json(self, conn_id: str | None = None, **overrides: Any) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>``; overrides set fields or extras, None drops one."""
        conn: dict[str, Any] = {
            "conn_type": "sftp",
            "host": self.host,
            "port": self.port,
            "login": self.username,
        }
        if conn_id:
            conn["description"] = f"DropStream test warehouse {conn_id}"
        extra: dict[str, Any] = {
            "private_key": self.private_key,
            "host_key": self.host_key,
            "look_for_keys": "false",  # only the key in the connection, never ~/.ssh/id_*
        }
        for key, value in overrides.items():
            target = conn if key in _TOP_LEVEL else extra
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        conn["extra"] = extra
        return json.dumps(conn)

    def drop_connections(self) -> None:
        """Kill every open session (sshd's per-connection children), like a dropped link."""
        import psutil

        for child in psutil.Process(self.process.pid).children(recursive=True):
            child.kill()
        psutil.wait_procs(psutil.Process(self.process.pid).children(recursive=True), timeout=5)

    def log(self) -> str:
        """What sshd wrote so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace")

    def reset_folders(self) -> None:
        """Empty the chroot and recreate the warehouse folders."""
        for entry in self.root.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for name in FOLDERS:
            (self.root / name).mkdir(mode=0o755)


def _chroot_parent(candidates: list[Path]) -> Path:
    """First candidate whose whole path is root-owned and not group/other-writable."""
    for candidate in candidates:
        path = candidate.resolve()
        parts = [path, *path.parents]
        if path.is_dir() and all(
            p.stat().st_uid == 0 and not p.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            for p in parts
        ):
            return path
    raise RuntimeError(f"no directory fit for an sshd ChrootDirectory among {candidates}")


def _write_config(base: Path, root: Path, port: int, user: str) -> Path:
    config = base / "sshd_config"
    config.write_text(
        f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {base / "ssh_host_ed25519_key"}
PidFile {base / "sshd.pid"}
AuthorizedKeysFile {base / "authorized_keys"}
StrictModes no
PermitRootLogin yes
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication yes
PermitEmptyPasswords no
KbdInteractiveAuthentication no
UsePAM no
MaxAuthTries 6
MaxStartups 100
MaxSessions 50
LoginGraceTime 30
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
ForceCommand internal-sftp
ChrootDirectory {root}
LogLevel VERBOSE
"""
    )
    return config


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60  # slow on a loaded machine
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on port {port}:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def sftp_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPServer]:
    """Start sshd once per session; see the module docstring."""
    if not SSHD.exists():
        pytest.fail(f"{SSHD} is missing: run `make test`, which apt-installs openssh-server")
    if os.geteuid() != 0:
        pytest.fail(
            "the SFTP tests chroot sshd sessions and must run as root (as `make test` does)"
        )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory

    base = tmp_path_factory.mktemp("sshd")
    host_private, host_public = new_ed25519_key()
    user_private, user_public = new_ed25519_key()
    host_key_file = base / "ssh_host_ed25519_key"
    host_key_file.write_text(host_private)
    host_key_file.chmod(0o600)
    (base / "authorized_keys").write_text(user_public + "\n")

    parent = _chroot_parent([tmp_path_factory.getbasetemp(), Path("/run"), Path.home()])
    root = Path(tempfile.mkdtemp(prefix="dropstream-sftp-", dir=parent))
    root.chmod(0o755)
    user = getpass.getuser()
    log_path = base / "sshd.log"

    proc: subprocess.Popen[bytes] | None = None
    for _attempt in range(3):  # the free port can be taken between probing and binding
        port = free_port()
        config = _write_config(base, root, port, user)
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_ready(proc, port, log_path)
            break
        except RuntimeError:
            proc.kill()
            proc.wait()
            proc = None
    if proc is None:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start sshd:\n{log_path.read_text()}")

    server = SFTPServer(
        host="127.0.0.1",
        port=port,
        username=user,
        private_key=user_private,
        host_key=host_public,
        root=root,
        process=proc,
        log_path=log_path,
    )
    try:
        yield server
    finally:
        server.drop_connections()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sftp_server(sftp_server_session: SFTPServer) -> SFTPServer:
    """The session's sshd with empty ``/in``, ``/out`` and ``/archive`` folders."""
    sftp_server_session.reset_folders()
    return sftp_server_session

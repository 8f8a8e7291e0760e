"""A real api-server serving the DropStream plugin, with an admin and a user limited to some DAGs.

The server reads the same metadata DB as the tests' ``dag.test()`` runs, and the ledger and
registry this module's fixture decides before starting it (a server's environment is fixed).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.ledgers import sqlite_ledger_url
from tests.servers._http import free_port
from tests.servers.airflow_api import _migrate

ROOT = Path(__file__).resolve().parents[2]
AUTH_MANAGER = "tests.web.auth_manager.DagPatternAuthManager"


@dataclass
class ViewServer:
    """``airflow api-server`` with the plugin; ``passwords`` by username."""

    url: str
    passwords: dict[str, str]
    ledger_url: str
    registry: dict[str, dict[str, Any]]
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            response = requests.post(
                f"{self.url}/auth/token",
                json={"username": username, "password": self.passwords[username]},
                timeout=30,
            )
            response.raise_for_status()
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

    def get(self, path: str, username: str | None, **params: Any) -> requests.Response:
        """``GET {url}{path}`` as ``username`` (None: with no credentials at all)."""
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=30)

    def api(self, path: str, username: str, **params: Any) -> Any:
        """``GET /dropstream/api{path}`` as ``username``: the JSON, asserting a 200."""
        response = self.get(f"/dropstream/api{path}", username, **params)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_view_server(
    base: Path,
    users: dict[str, str],
    dag_access: dict[str, list[str]],
    registry: dict[str, dict[str, Any]],
) -> ViewServer:
    """Start the api-server: ``users`` maps username -> SimpleAuthManager role."""
    _migrate()
    passwords = {user: secrets.token_urlsafe(12) for user in users}
    password_file = base / "passwords.json"
    password_file.write_text(json.dumps(passwords))
    ledger_url = sqlite_ledger_url(base)
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_VAR_DROPSTREAM_CONNECTIONS": json.dumps(registry),
        "DROPSTREAM_LEDGER_URL": ledger_url,
        "DROPSTREAM_TEST_DAG_ACCESS": json.dumps(dag_access),
        "PYTHONPATH": os.pathsep.join(str(p) for p in (ROOT / "plugins", ROOT / "include", ROOT)),
    }
    log_path = base / "api-server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "-H", "127.0.0.1", "-p", str(port)]
            + ["-w", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = ViewServer(
        f"http://127.0.0.1:{port}", passwords, ledger_url, registry, process, log_path
    )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"api-server exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if requests.get(f"{server.url}/dropstream/api/health", timeout=2).ok:
                return server
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"api-server did not answer on {server.url}:\n{server.log()[-3000:]}")
        time.sleep(0.5)


def stop(server: ViewServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()

"""A real Airflow api-server (SimpleAuthManager, one known user) sharing the tests' AIRFLOW_HOME.

It serves the metadata DB the tests' ``dag.test()`` runs write to, so tasks that call the REST
API (the setup DAG) talk to a real server with real auth. The fixture also exposes it to tasks
as the Airflow Connection ``dropstream_airflow_api`` (an ``AIRFLOW_CONN_*`` variable).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from tests.servers._http import free_port

ROOT = Path(__file__).resolve().parents[2]
USER = "dropstream-service"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
READ_TIMEOUT = 30
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_again_when_slow = retry(
    retry=retry_if_exception_type((requests.Timeout, requests.ConnectionError)),
    stop=stop_after_attempt(3),
    wait=wait_fixed(2),
    reraise=True,
)


class RestClient:
    """Calls to an api-server's REST API as one user (``url``, ``username``, ``password``)."""

    url: str
    username: str
    password: str
    _token: str | None

    def token(self) -> str:
        if self._token is None:
            response = requests.post(
                f"{self.url}/auth/token",
                timeout=30,
                json={"username": self.username, "password": self.password},
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``/api/v2{path}`` with the user's bearer token. A call that may be repeated
        (``IDEMPOTENT``) is asked again, twice, when the server does not answer in time: an
        api-server on SQLite (``make run``) or on two busy cores can take longer than a read
        timeout. A POST is sent once."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        url = f"{self.url}/api/v2{path}"
        if method.upper() not in IDEMPOTENT:
            return requests.request(method, url, headers=headers, timeout=READ_TIMEOUT, **kwargs)
        return _again_when_slow(requests.request)(
            method, url, headers=headers, timeout=READ_TIMEOUT, **kwargs
        )

    def trigger(self, dag_id: str, run_id: str, **body: Any) -> None:
        """Trigger ``dag_id`` as run ``run_id``. Named, the POST may be sent again when the
        server is slow to answer: a 409 then says the first one made the run."""
        payload = {"dag_run_id": run_id, "logical_date": None, **body}

        def post() -> requests.Response:
            return self.call("POST", f"/dags/{dag_id}/dagRuns", json=payload)

        response = _again_when_slow(post)()
        assert response.status_code in (200, 409), f"trigger {dag_id}: {response.text}"

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.call("GET", path, **kwargs)
        response.raise_for_status()
        return response.json()


@dataclass
class AirflowAPIServer(RestClient):
    url: str
    username: str
    password: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)
    _token: str | None = field(default=None, repr=False)

    def connection_json(self) -> str:
        return json.dumps(
            {
                "conn_type": "http",
                "host": self.url,
                "login": self.username,
                "password": self.password,
            }
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _write_registry(self, change: Any) -> None:
        current = self.call("GET", "/variables/dropstream_connections")
        registry = json.loads(current.json()["value"]) if current.status_code == 200 else {}
        body = {"key": "dropstream_connections", "value": json.dumps(change(registry))}
        response = self.call("PATCH", "/variables/dropstream_connections", json=body)
        if response.status_code == 404:
            response = self.call("POST", "/variables", json=body)
        assert response.status_code in (200, 201), response.text

    def register(self, name: str, entry: dict[str, Any]) -> None:
        """Add one registry entry straight through the REST API (not the setup DAG)."""
        self._write_registry(lambda registry: {**registry, name: entry})

    def retire(self, name: str) -> None:
        """Pause a connection's DAGs and drop its entry: the session's api-server and metadata DB
        are shared, and a later test's scheduler must not run this test's connection."""
        for flow in ("orders", "inventory", "tracking"):
            self.call("PATCH", f"/dags/dropstream__{name}__{flow}", json={"is_paused": True})
        self._write_registry(lambda registry: {k: v for k, v in registry.items() if k != name})


#: Seconds for the api-server to answer: it imports Airflow and the plugin, a minute or more when
#: `make test`'s workers start their servers at once on two cores.
START_TIMEOUT = 300


def _migrate() -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        capture_output=True,
    )
    from airflow import settings

    if settings.Session is None:
        settings.configure_orm()


@pytest.fixture(scope="session")
def airflow_api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowAPIServer]:
    """Start ``airflow api-server`` on a loopback port; see the module docstring."""
    _migrate()
    base = tmp_path_factory.mktemp("api-server")
    password = secrets.token_urlsafe(16)
    passwords = base / "passwords.json"
    passwords.write_text(json.dumps({USER: password}))
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
    }
    log_path = base / "api-server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow",
                "api-server",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = AirflowAPIServer(f"http://127.0.0.1:{port}", USER, password, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"api-server exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if requests.get(f"{server.url}/api/v2/monitor/health", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"api-server did not answer on {server.url}:\n{server.log()[-3000:]}")
        time.sleep(0.5)
    os.environ["AIRFLOW_CONN_DROPSTREAM_AIRFLOW_API"] = server.connection_json()
    try:
        yield server
    finally:
        os.environ.pop("AIRFLOW_CONN_DROPSTREAM_AIRFLOW_API", None)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def registered(airflow_api_server: AirflowAPIServer) -> Iterator[Any]:
    """``registered(name, entry)`` adds a connection to the shared api-server's registry; at the
    end of the test its DAGs are paused and its entry removed."""
    names: list[str] = []

    def register(name: str, entry: dict[str, Any]) -> None:
        airflow_api_server.register(name, entry)
        names.append(name)

    yield register
    for name in names:
        airflow_api_server.retire(name)

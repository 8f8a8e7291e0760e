"""DropStream's production topology as processes on this machine: the compose file, natively.

``docker-compose.yaml`` runs postgres, redis, airflow-init, api-server, scheduler, dag-processor,
triggerer and a Celery worker in containers. Where no container can run (here, CI), ``Stack``
starts the same components as separate processes, wired the same way:

- a PostgreSQL metadata DB and a PostgreSQL ledger, each its own fresh database (uuid-suffixed
  names on the local server), dropped again on ``stop``;
- CeleryExecutor with the local Redis as broker (a key prefix and a queue of this stack's own,
  so stacks of other users of the same Redis never see its tasks) and the metadata DB as result
  backend;
- the init step of ``airflow-init``: ``airflow db migrate``, ``python -m dropstream.ledger
  upgrade``, an admin user (SimpleAuthManager) and the ``dropstream_airflow_api`` Connection;
- one shared JWT secret and Fernet key; every port from the OS, nothing on 0.0.0.0.

Each component runs in its own process group: ``kill("worker")`` SIGKILLs the worker with its
pool and task processes, as a crashed machine would, and ``start("worker")`` brings it back.
Used by the tests (tests/deploy/) and by bench/scale.py; it imports nothing from tests/.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get(
    "DROPSTREAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("DROPSTREAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
ADMIN = "admin"
START_TIMEOUT = 180
STOP_TIMEOUT = 20
#: The long-running components, in start order, as ``airflow`` sub-commands.
COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer", "worker")


class StackError(RuntimeError):
    """A component did not start, or died; the message holds the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database(prefix: str) -> str:
    """A new empty database on the local PostgreSQL server; its URL (psycopg 3)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise StackError(
            f"PostgreSQL at {POSTGRES} is not answering ({exc}); `make services` starts it"
        ) from exc
    finally:
        admin.dispose()
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def redis_answers(url: str = REDIS) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@dataclass
class Component:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)  # start_new_session: group id = leader's pid


@dataclass
class Stack:
    """The topology; ``start_all()`` brings it up, ``stop()`` takes it down and drops its DBs."""

    base: Path
    worker_concurrency: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    metadata_url: str = ""
    ledger_url: str = ""
    port: int = field(default_factory=free_port)
    components: dict[str, Component] = field(default_factory=dict)
    _token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- set-up ------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """What every component gets: docker-compose.yaml's x-airflow-common environment."""
        tag = self.base.name
        home = self.base / "airflow-home"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": REDIS,
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "dropstream.celery_config.CELERY_CONFIG",
            # Other stacks on the same Redis: a key prefix and a queue of this stack's own.
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"{tag}:",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": tag,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet_key"),
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.base / "passwords.json"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "DROPSTREAM_LEDGER_URL": self.ledger_url,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def _secret(self, name: str) -> str:
        path = self.base / name
        if not path.exists():
            if name == "fernet_key":
                from cryptography.fernet import Fernet

                path.write_text(Fernet.generate_key().decode())
            else:
                path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def init(self) -> None:
        """airflow-init: fresh DBs, Airflow's migration, the ledger's, the admin's password."""
        if not redis_answers():
            raise StackError(f"Redis at {REDIS} is not answering; `make services` starts it")
        self.base.mkdir(parents=True, exist_ok=True)
        self.metadata_url = self.metadata_url or create_database("ds_airflow")
        self.ledger_url = self.ledger_url or create_database("ds_ledger")
        (self.base / "passwords.json").write_text(json.dumps({ADMIN: self.password}))
        env = self.env()
        for command in (
            [sys.executable, "-m", "airflow", "db", "migrate"],
            [sys.executable, "-m", "dropstream.ledger", "upgrade"],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode:
                raise StackError(f"{' '.join(command[2:])} failed:\n{done.stdout}{done.stderr}")

    def _args(self, name: str) -> list[str]:
        if name == "api-server":
            return ["api-server", "-H", "127.0.0.1", "-p", str(self.port), "-w", "1"]
        if name == "worker":
            queue = self.base.name
            return ["celery", "worker", "-q", queue, "-H", f"{queue}@%h", "--skip-serve-logs"]
        if name in {"scheduler", "triggerer"}:
            return [name, "--skip-serve-logs"]
        return [name]

    # -- processes ---------------------------------------------------------------------------
    def start(self, name: str) -> Component:
        log_path = self.base / f"{name}.log"
        component = Component(name, self._args(name), log_path)
        with log_path.open("ab") as log:
            component.process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *component.args],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.base,
            )
        self.components[name] = component
        return component

    def start_all(self) -> None:
        self.init()
        for name in COMPONENTS:
            self.start(name)
        self.wait_until(self._api_answers, "the api-server answers", START_TIMEOUT)
        self.wait_until(
            lambda: (
                "Connected to redis" in self.components["worker"].log()
                or "ready." in self.components["worker"].log()
            ),
            "the Celery worker is ready",
            START_TIMEOUT,
        )
        self.ensure_api_connection()

    def kill(self, name: str) -> None:
        """SIGKILL the component and every process of its group (pool, running tasks)."""
        component = self.components[name]
        component.signal_group(signal.SIGKILL)
        if component.process is not None:
            component.process.wait(timeout=STOP_TIMEOUT)

    def stop(self, drop_databases: bool = True) -> None:
        for component in reversed(list(self.components.values())):
            component.signal_group(signal.SIGTERM)
        for component in reversed(list(self.components.values())):
            if component.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    component.process.wait(timeout=STOP_TIMEOUT)
            component.signal_group(signal.SIGKILL)  # what is left of its group
            if component.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    component.process.wait(timeout=STOP_TIMEOUT)
        self._purge_queue()
        if drop_databases:
            for url in (self.metadata_url, self.ledger_url):
                if url:
                    drop_database(url)

    def _purge_queue(self) -> None:
        import redis

        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(REDIS, socket_timeout=2)
            keys = list(client.scan_iter(match=f"{self.base.name}:*", count=1000))
            if keys:
                client.delete(*keys)

    def check_alive(self) -> None:
        for component in self.components.values():
            if not component.alive():
                raise StackError(
                    f"{component.name} exited ({component.process and component.process.poll()}):"
                    f"\n{component.log()[-3000:]}"
                )

    def wait_until(self, ready: Callable[[], Any], what: str, timeout: float) -> Any:
        """Poll ``ready`` until it returns something true; fail naming ``what`` and the logs."""
        deadline = time.monotonic() + timeout
        while True:
            value = ready()
            if value:
                return value
            self.check_alive()
            if time.monotonic() > deadline:
                raise StackError(f"{what}: not within {timeout:.0f} s\n{self.log_tails()}")
            time.sleep(1)

    def log_tails(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {c.name}\n{c.log()[-chars:]}" for c in self.components.values())

    # -- REST API ----------------------------------------------------------------------------
    def _api_answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).ok
        except requests.RequestException:
            return False

    def token(self) -> str:
        if self._token is None:
            response = requests.post(
                f"{self.url}/auth/token",
                json={"username": ADMIN, "password": self.password},
                timeout=30,
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``/api/v2{path}`` as the admin."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        return requests.request(
            method, f"{self.url}/api/v2{path}", headers=headers, timeout=60, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.call("GET", path, **kwargs)
        response.raise_for_status()
        return response.json()

    def ensure_api_connection(self) -> None:
        """The Connection the setup DAG calls the REST API with (airflow-init creates it)."""
        body = {
            "connection_id": "dropstream_airflow_api",
            "conn_type": "http",
            "host": self.url,
            "login": ADMIN,
            "password": self.password,
        }
        response = self.call("POST", "/connections", json=body)
        if response.status_code not in (201, 409):
            raise StackError(f"creating dropstream_airflow_api: {response.text}")

    def set_variable(self, key: str, value: str) -> None:
        response = self.call("PATCH", f"/variables/{key}", json={"key": key, "value": value})
        if response.status_code == 404:
            response = self.call("POST", "/variables", json={"key": key, "value": value})
        response.raise_for_status()

    def upsert_connection(self, conn_id: str, body: dict[str, Any]) -> None:
        body = {**body, "connection_id": conn_id}
        response = self.call("PATCH", f"/connections/{conn_id}", json=body)
        if response.status_code == 404:
            response = self.call("POST", "/connections", json=body)
        response.raise_for_status()

    def dag_ids(self, prefix: str) -> set[str]:
        found: set[str] = set()
        offset = 0
        while True:
            page = self.get("/dags", params={"limit": 100, "offset": offset})
            found |= {d["dag_id"] for d in page["dags"] if d["dag_id"].startswith(prefix)}
            offset += 100
            if offset >= page["total_entries"]:
                return found

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def pause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": True}).raise_for_status()

    def runs(self, dag_id: str = "~", **params: Any) -> list[dict[str, Any]]:
        """Every DAG run (of ``dag_id``; ``~`` = all DAGs), oldest first."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.get(
                f"/dags/{dag_id}/dagRuns",
                params={"limit": 100, "offset": offset, "order_by": "run_after", **params},
            )
            found += page["dag_runs"]
            offset += 100
            if offset >= page["total_entries"]:
                return found

    def task_instances(self, dag_id: str = "~", **params: Any) -> list[dict[str, Any]]:
        """Every task instance (of ``dag_id``), across runs."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.get(
                f"/dags/{dag_id}/dagRuns/~/taskInstances",
                params={"limit": 100, "offset": offset, **params},
            )
            found += page["task_instances"]
            offset += 100
            if offset >= page["total_entries"]:
                return found


@contextlib.contextmanager
def running_stack(base: Path, **kwargs: Any) -> Iterator[Stack]:
    """A started ``Stack`` in ``base``, stopped (databases dropped) on the way out."""
    stack = Stack(base, **kwargs)
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop()

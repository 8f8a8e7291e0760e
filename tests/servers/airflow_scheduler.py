"""A real ``airflow scheduler`` (LocalExecutor) and ``airflow dag-processor`` for one test.

They share the tests' AIRFLOW_HOME, metadata DB and Fernet key with the ``airflow_api_server``
fixture, wired the way ``airflow standalone`` wires its components:

- the DAGs folder is the repo's ``dags/``; ``plugins/`` and ``include/`` are on PYTHONPATH;
- task runners reach the metadata DB only through the Execution API, which lives in an
  api-server: ``AIRFLOW__CORE__EXECUTION_API_SERVER_URL`` points at ``<api-server>/execution/``;
- the scheduler signs the task runners' tokens and that api-server checks them, so both need
  one ``AIRFLOW__API_AUTH__JWT_SECRET``. The ``airflow_api_server`` fixture keeps its generated
  secret to itself (and the api-server's process title overwrites ``/proc/<pid>/environ``), so
  this fixture starts a second, execution-only api-server (``--apps execution``) with a secret
  it shares with the scheduler. Same DB, same AIRFLOW_HOME: the tasks' REST calls still go to
  ``airflow_api_server`` (Connection ``dropstream_airflow_api``), which also serves their logs;
- the scheduler skips its log server (``--skip-serve-logs``): the api-server reads the task log
  files under AIRFLOW_HOME/logs directly, and no fixed port (8793) is taken;
- ``airflow_scheduler`` runs triggered runs only (``USE_JOB_SCHEDULE`` off); a test that needs
  cron runs and backfills starts ``running_scheduler(..., job_schedule=True)`` itself, after
  setting the environment (Connections, ledger URL) the task processes must inherit.

Each component runs in its own process group, so teardown (SIGTERM, wait, SIGKILL) also ends the
LocalExecutor's workers and the task processes they fork. The registry is *not* given as
``AIRFLOW_VAR_DROPSTREAM_CONNECTIONS``: an environment Variable would shadow the DB Variable the
setup DAG writes, so every component reads the real Variable, as in production.

Function-scoped: other tests run queued runs with ``dag.test()`` and must not race a scheduler.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.servers.airflow_api import ROOT, AirflowAPIServer, free_port

STOP_TIMEOUT = 20
START_TIMEOUT = 300  # to start: minutes when make test's workers start Airflow at once


@dataclass
class AirflowComponent:
    name: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever of the group is left."""
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        # The leader may be gone while forked workers or task processes of its group linger.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)


@dataclass
class AirflowScheduler:
    scheduler: AirflowComponent
    dag_processor: AirflowComponent
    execution_api: AirflowComponent
    execution_api_url: str
    env: dict[str, str] = field(repr=False, default_factory=dict)  # what the components run with

    @property
    def components(self) -> tuple[AirflowComponent, ...]:
        return (self.scheduler, self.dag_processor, self.execution_api)

    def check_alive(self) -> None:
        for component in self.components:
            if not component.alive():
                pytest.fail(
                    f"{component.name} exited with {component.process.returncode}:\n"
                    f"{component.log()[-3000:]}"
                )

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.log()}" for c in self.components)


def _start(name: str, args: list[str], env: dict[str, str], base: Path) -> AirflowComponent:
    log_path = base / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return AirflowComponent(name, process, log_path)


def _wait(component: AirflowComponent, ready, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if not component.alive():
            pytest.fail(f"{component.name} exited:\n{component.log()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{component.name}: {what} not seen:\n{component.log()[-3000:]}")
        time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


@contextlib.contextmanager
def running_scheduler(base: Path, *, job_schedule: bool) -> Iterator[AirflowScheduler]:
    """Start an execution API, a dag-processor and a scheduler; see the module docstring.

    ``job_schedule`` False: triggered runs only; True: cron runs too (and backfills).
    """
    # airflow_api_server has run `airflow db migrate` on the shared DB before it started.
    port = free_port()
    execution_api_url = f"http://127.0.0.1:{port}/execution/"
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": execution_api_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(job_schedule),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AIRFLOW_VAR_DROPSTREAM_CONNECTIONS", None)  # the DB Variable is the registry
    started: list[AirflowComponent] = []
    try:
        execution_api = _start(
            "execution-api",
            ["api-server", "--apps", "execution", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
            env,
            base,
        )
        started.append(execution_api)
        dag_processor = _start("dag-processor", ["dag-processor"], env, base)
        started.append(dag_processor)
        scheduler = _start("scheduler", ["scheduler", "--skip-serve-logs"], env, base)
        started.append(scheduler)
        _wait(execution_api, lambda: _answers(f"{execution_api_url}health"), "health")
        _wait(scheduler, lambda: "Starting the scheduler" in scheduler.log(), "start")
        yield AirflowScheduler(scheduler, dag_processor, execution_api, execution_api_url, env)
    finally:
        for component in reversed(started):
            component.stop()


@pytest.fixture
def airflow_scheduler(
    airflow_api_server: AirflowAPIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowScheduler]:
    """Scheduler, dag-processor and execution API running triggered runs only."""
    with running_scheduler(tmp_path_factory.mktemp("scheduler"), job_schedule=False) as running:
        yield running

"""Test-wide set-up: an isolated AIRFLOW_HOME and the real servers' fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration on first import: isolate it before any test imports airflow.
_AIRFLOW_HOME = Path(
    os.environ.get("DROPSTREAM_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="ds-airflow-")
)
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
# One Fernet key for this process and every Airflow subprocess (api-server, migrate): without
# it each may invent its own and cannot read the Connections another one encrypted.
if not os.environ.get("AIRFLOW__CORE__FERNET_KEY"):
    from cryptography.fernet import Fernet

    os.environ["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()

# The metadata DB: a fresh PostgreSQL database per test process (each xdist worker its own), as
# in production. SQLite, Airflow's embedded default, serialises every writer: a real scheduler,
# api-server, dag-processor and CLI on one file meet "database is locked", and Airflow's own
# recovery from it (a half-created backfill's cleanup) deleted runs under a live scheduler.
# `make run` keeps its SQLite default (the browser tests start it without this setting).
if not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
    from tests.metadata_db import create_metadata_db

    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = create_metadata_db()


def pytest_configure(config) -> None:  # noqa: ARG001 - pytest's hook signature
    from tests.dag_test_sync import install

    install()  # dag.test() re-writes the bundle only when what it is made from changed


def pytest_unconfigure(config) -> None:  # noqa: ARG001 - pytest's hook signature
    from tests.metadata_db import drop_metadata_db

    drop_metadata_db()


# Every module in tests/servers/ is a fixture plugin: a real server (sshd, FTP, S3, PostgreSQL)
# or a platform emulator. Adding a server is adding a module there.
# tests/scheduling.py shares the files among `make test`'s xdist workers.
pytest_plugins = [
    "tests.scheduling",
    *sorted(
        f"tests.servers.{path.stem}"
        for path in (ROOT / "tests" / "servers").glob("*.py")
        if not path.name.startswith("_") and "@pytest.fixture" in path.read_text(encoding="utf-8")
    ),
]

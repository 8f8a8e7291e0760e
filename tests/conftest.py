"""Test-wide set-up: an isolated AIRFLOW_HOME and the real servers' fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration on first import: isolate it before any test imports airflow.
_AIRFLOW_HOME = Path(os.environ.get("DROPSTREAM_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="ds-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")

pytest_plugins = [
    "tests.servers.shopify",
    "tests.servers.sshd",
    "tests.servers.postgres",
]

"""The Celery worker's preload: DropStream's task modules imported once, before the pool forks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: the preload imports every task module and freezes the collector.
PROBE = r"""
import json, sys, threading
import airflow.providers.standard.operators.python  # what Airflow's own preload imports
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from dropstream.celery_config import CELERY_CONFIG
import dropstream.worker_preload as preload
from adapters import PLATFORMS
from airflow.sdk.plugins_manager import integrate_macros_plugins
print(json.dumps({
    "plugins_cached": integrate_macros_plugins.cache_info().currsize,
    "imports": list(CELERY_CONFIG["imports"]),
    "defaults_kept": all(CELERY_CONFIG[k] == v for k, v in DEFAULT_CELERY_CONFIG.items()),
    "failed": preload.FAILED,
    "threads": threading.active_count(),
    "modules": sorted(sys.modules),
    "platforms": list(PLATFORMS),
}))
"""


def probe(tmp_path: Path) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(tmp_path),
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT / 'include'}",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_worker_preloads_every_task_module_without_opening_anything(tmp_path):
    seen = probe(tmp_path)
    # Airflow's Celery defaults stay; Celery imports the preload when the worker starts.
    assert seen["defaults_kept"]
    assert "dropstream.worker_preload" in seen["imports"]
    assert seen["failed"] == []
    modules = set(seen["modules"])
    # What a flow's three tasks import: the DAG file's modules, the step code, the ledger and its
    # driver, every format, transport and store adapter.
    needed = {
        "dropstream.factory",
        "dropstream.registry",
        "dropstream.tasks",
        "dropstream.flows.orders",
        "dropstream.flows.inventory",
        "dropstream.flows.tracking",
        "dropstream.ledger",
        "dropstream.formats.header_detail_csv",
        "dropstream.formats.flat_csv",
        "dropstream.formats.x12",
        "dropstream.transports.ftp",
        "dropstream.transports.sftp",
        "dropstream.transports.s3",
        "psycopg",
    }
    assert needed <= modules, needed - modules
    for platform in seen["platforms"]:
        assert any(m == f"adapters.{platform}" for m in modules), platform
    # Airflow's plugins are loaded as a task process loads them, so a forked task finds them
    # cached; loading the DropStream plugin does not build the view's app (only the api-server
    # reads ``fastapi_apps``).
    assert seen["plugins_cached"] == 1
    assert "dropstream_plugin" in modules
    # Not task-time code: the emulators, the web view's app and pages (the actions use only its
    # pure summary functions), Alembic's migration scripts.
    assert not {m for m in modules if m.startswith("dropstream.sandbox")}
    assert not {"dropstream.web.app", "dropstream.web.pages", "dropstream.web.api"} & modules
    assert "dropstream.ledger.migrations.env" not in modules
    # Fork-safe: importing started no thread (a forked task would inherit a dead one).
    assert seen["threads"] == 1

"""Import DropStream's task-time modules once in a Celery worker, before its pool forks.

Airflow runs every task instance in a process forked from the worker (the Task SDK's
supervisor), so anything the worker imported beforehand is already in the task's memory.
Airflow itself preloads its operators this way (``on_celery_import_modules``); without the same
for DropStream, each of a run's three tasks imports the flows, the ledger (SQLAlchemy,
psycopg), the formats, the transports and the store adapters again: the larger part of what a
DropStream task costs over an empty one. ``dropstream.celery_config`` names this module in
Celery's ``imports``.

Airflow's plugins too: every task process loads them (the Task SDK integrates plugin macros and
listeners when it starts a task), and the DropStream plugin builds the view's FastAPI app when it
is imported — 1.8 CPU-s per task measured here, more than the flow's own modules. Loaded once in
the worker (``integrate_macros_plugins`` caches them), each forked task finds them loaded.

Only modules are imported: no connection, thread or file is opened, so forking stays safe.
A module that cannot be imported is logged and skipped: the worker still starts, and the task
that needs the module fails with the real error, naming it.
"""

from __future__ import annotations

import gc
import logging
import pkgutil
import time
from importlib import import_module

log = logging.getLogger("dropstream.worker_preload")

#: Packages whose modules the flows' tasks import (the DAG file, tasks, flows, ledger, formats,
#: transports, alerts, store adapters).
PACKAGES = ("dropstream", "adapters")

#: Never imported here: the sandbox's emulators, the web view, the setup form and the reports
#: are not task-time code, migrations run Alembic on import, ``__main__`` modules are commands.
#: Imported on first use by what the tasks call, so not reached by walking the packages:
#: the ledger's PostgreSQL driver (SQLAlchemy loads it when the first engine is made).
EXTRA = ("psycopg",)

SKIP = (
    "dropstream.sandbox",
    "dropstream.web",
    "dropstream.setup",
    "dropstream.report",
    "dropstream.ledger.migrations",
    "dropstream.worker_preload",
    "dropstream.celery_config",
)


def _skipped(name: str) -> bool:
    return name.rsplit(".", 1)[-1] == "__main__" or any(
        name == skip or name.startswith(f"{skip}.") for skip in SKIP
    )


def _walk(package_name: str) -> list[str]:
    """``package_name`` and its modules, depth first, never importing a skipped package
    (``pkgutil.walk_packages`` imports every subpackage to look inside it)."""
    names = [package_name]
    package = import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__, prefix=f"{package_name}."):
        if _skipped(info.name):
            continue
        names.extend(_walk(info.name) if info.ispkg else [info.name])
    return names


def task_modules() -> list[str]:
    """The module names under ``PACKAGES`` (minus ``SKIP`` and ``__main__``s), then ``EXTRA``."""
    return [name for package in PACKAGES for name in _walk(package)] + list(EXTRA)


def preload() -> list[str]:
    """Import every task-time module; return those that failed (logged with the reason)."""
    started = time.process_time()
    failed: list[str] = []
    names = task_modules()
    for name in names:
        try:
            import_module(name)
        except Exception as exc:  # a broken optional module must not stop the worker
            failed.append(name)
            log.warning("DropStream preload: could not import %s: %s", name, exc)
    imported = len(names) - len(failed)
    failed += _load_plugins()
    # As Airflow does after its own preload: keep these objects out of the collector's way so
    # the forked task processes do not copy the pages it would touch.
    gc.freeze()
    log.info(
        "DropStream preload: %d task modules imported, Airflow's plugins loaded, in %.2f CPU-s "
        "(%d failed)",
        imported,
        time.process_time() - started,
        len(failed),
    )
    return failed


def _load_plugins() -> list[str]:
    """Load Airflow's plugins as a task process would (cached for the forked tasks); return
    ``["airflow plugins"]`` when that fails (logged), so the worker still starts."""
    try:
        from airflow.sdk.plugins_manager import integrate_macros_plugins

        integrate_macros_plugins()
    except Exception as exc:  # a broken plugin fails its tasks with the real error
        log.warning("DropStream preload: could not load Airflow's plugins: %s", exc)
        return ["airflow plugins"]
    return []


#: What the worker could not preload (empty when every module imports).
FAILED = preload()

"""The test processes' Airflow metadata DB: one PostgreSQL database per process.

``create_metadata_db`` runs when ``tests/conftest.py`` is imported, before anything imports
Airflow; ``drop_metadata_db`` when pytest ends. A database left by a process that was killed
(its pid, part of the name, no longer runs) is dropped by the next run.
"""

from __future__ import annotations

import os
import re
import uuid

from sqlalchemy import create_engine, text

#: The PostgreSQL server the tests use (its ``postgres`` database): the metadata DBs and the
#: ``postgres_url`` fixture's databases are created there. Defined here, not in the fixture
#: module, because conftest imports this before pytest loads its fixture plugins.
SERVER_URL = os.environ.get(
    "DROPSTREAM_TEST_POSTGRES_URL",
    "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres",
)
PREFIX = "dropstream_meta_"
_created: list[str] = []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_metadata_db() -> str:
    """Create ``dropstream_meta_<pid>_<hex>`` and return its URL; say how to start PostgreSQL
    when it does not answer."""
    name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            stale = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": PREFIX + "%"}
            ).scalars()
            for old in stale:
                found = re.fullmatch(rf"{PREFIX}(\d+)_[0-9a-f]+", old)
                if found and not _alive(int(found.group(1))):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise SystemExit(
            f"The tests keep Airflow's metadata DB in PostgreSQL at {SERVER_URL}, which did not "
            f"answer ({exc}). Run `make test` (it installs and starts PostgreSQL), or `make "
            "services` before running pytest directly."
        ) from exc
    finally:
        admin.dispose()
    _created.append(name)
    return SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_metadata_db() -> None:
    if not _created:
        return
    import sys

    settings = sys.modules.get("airflow.settings")
    if settings is not None:  # close this process's pool first: the drop ends its connections
        settings.dispose_orm()
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in _created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    _created.clear()

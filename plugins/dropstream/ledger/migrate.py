"""The ledger's schema migrations (Alembic): ``python -m dropstream.ledger upgrade``.

Constructing a :class:`~dropstream.ledger.Ledger` creates no table; a deployment runs
``upgrade`` once per release before its workers start (``airflow-init`` in docker-compose.yaml,
``make run``, the tests' fixtures). The version is kept in ``ds_alembic_version``, so the ledger
may even share a database with Airflow (whose own table is ``alembic_version``).

A ledger made before migrations existed (tables from ``metadata.create_all``, no version
table) is recognised, checked against the baseline and stamped, then upgraded like any other.
How to add a migration: ``docs/ledger-migrations.md``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text

from dropstream.errors import ConfigurationError
from dropstream.ledger.base import default_url

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "ds_alembic_version"
#: The revision whose tables ``metadata.create_all`` made before migrations existed.
BASELINE = "0001"
# Two processes upgrading one PostgreSQL ledger at once take turns on this advisory lock.
_PG_LOCK_KEY = 0x44535F4C  # "DS_L"


def _config(connection: Connection | None = None, url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    from alembic.script import ScriptDirectory

    (revision,) = ScriptDirectory.from_config(_config()).get_heads()
    return str(revision)


def current(url: str | None = None) -> str | None:
    """The ledger's revision; None when it has no version table (empty or pre-migrations)."""
    engine = create_engine(url or default_url())
    try:
        with engine.connect() as conn:
            return _current(conn)
    finally:
        engine.dispose()


def upgrade(url: str | None = None, revision: str = "head") -> str:
    """Bring the ledger at ``url`` (default ``DROPSTREAM_LEDGER_URL``) to ``revision``."""
    from alembic import command

    engine = create_engine(url or default_url())
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            config = _config(conn)
            if _current(conn) is None and _has_ledger_tables(conn):
                _check_baseline(conn, engine.url.render_as_string(hide_password=True))
                command.stamp(config, BASELINE)
            command.upgrade(config, revision)
            return _current(conn) or ""
    finally:
        engine.dispose()


def new_revision(message: str, *, autogenerate: bool = True) -> Path:
    """Write the next migration file; with ``autogenerate``, from ``schema.py`` vs the head.

    The comparison runs against a throwaway SQLite ledger upgraded to the head, so no real
    ledger is touched. Review the file: autogenerate misses renames and data moves.
    """
    from alembic import command

    number = int(head()) + 1
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'head.db'}"
        upgrade(url)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                script = command.revision(
                    _config(conn),
                    message=message,
                    autogenerate=autogenerate,
                    rev_id=f"{number:04d}",
                )
        finally:
            engine.dispose()
    if script is None or isinstance(script, list):
        raise RuntimeError("alembic wrote no single revision: is there more than one head?")
    return Path(script.path)


def _current(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _has_ledger_tables(conn: Connection) -> bool:
    return any(name.startswith("ds_") for name in inspect(conn).get_table_names())


def _check_baseline(conn: Connection, where: str) -> None:
    """A pre-migrations ledger must hold the baseline's tables and columns before stamping."""
    from dropstream.ledger.migrations import baseline

    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    problems = []
    for table in baseline.metadata.sorted_tables:
        if table.name not in tables:
            problems.append(f"table {table.name} is missing")
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        if missing := [c.name for c in table.columns if c.name not in have]:
            problems.append(f"{table.name} lacks column(s) {', '.join(missing)}")
    if problems:
        raise ConfigurationError(
            f"the ledger at {where} has DropStream tables but no version table "
            f"({VERSION_TABLE}), and it does not match the baseline schema: "
            f"{'; '.join(problems)}. Restore it from a backup or point DROPSTREAM_LEDGER_URL "
            "at an empty database, then run `python -m dropstream.ledger upgrade`."
        )

"""The ledger's engine and the helpers its parts share."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, ProgrammingError

from dropstream.errors import ConfigurationError


def default_url() -> str:
    """``DROPSTREAM_LEDGER_URL``, else a SQLite file under ``AIRFLOW_HOME``.

    PostgreSQL in production, with psycopg 3: ``postgresql+psycopg://user:pw@host/dropstream``.
    """
    url = os.environ.get("DROPSTREAM_LEDGER_URL")
    if url:
        return url
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'dropstream_ledger.db'}"


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class LedgerBase:
    """Engine, transactions and dialect-aware inserts shared by the ledger's parts.

    Creates no table: ``python -m dropstream.ledger upgrade`` does (``ledger/migrate.py``).
    """

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = url or default_url()
        # Insert-if-absent reads rowcount: psycopg 3 reports it for INSERT only when asked.
        self.engine = engine or create_engine(
            self.url, pool_pre_ping=True, execution_options={"preserve_rowcount": True}
        )
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (OperationalError, ProgrammingError) as exc:
            if _missing_table(exc):
                where = self.engine.url.render_as_string(hide_password=True)
                raise ConfigurationError(
                    f"the ledger at {where} is not migrated ({exc.orig}): run "
                    "`python -m dropstream.ledger upgrade` with the same DROPSTREAM_LEDGER_URL"
                ) from exc
            raise

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)


def _missing_table(exc: Exception) -> bool:
    message = str(getattr(exc, "orig", exc))
    return "no such table" in message or ("relation" in message and "does not exist" in message)


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

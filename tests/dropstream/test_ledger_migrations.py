"""The ledger's schema is made by its migrations, never by constructing a Ledger.

Each test runs on SQLite and on PostgreSQL (psycopg 3), in a database of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from dropstream.errors import ConfigurationError
from dropstream.ledger import Ledger, metadata, migrate
from dropstream.ledger.migrations import baseline
from tests.dropstream.test_ledger import order

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    server = request.getfixturevalue("postgres_url")  # proves the server answers
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"dropstream_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_differences(url: str) -> list:
    """What autogenerate would change to make the database match schema.py (none = in step)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": migrate.VERSION_TABLE}
            )
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    return [d for d in diffs if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)]


def test_constructing_a_ledger_creates_no_table_and_using_it_says_to_upgrade(empty_url):
    ledger = Ledger(empty_url)
    try:
        assert tables(empty_url) == set()
        with pytest.raises(ConfigurationError, match="python -m dropstream.ledger upgrade"):
            ledger.watermark("acme", "orders")
    finally:
        ledger.close()


def test_upgrade_builds_exactly_the_schema_the_code_uses(empty_url):
    assert migrate.current(empty_url) is None
    assert migrate.upgrade(empty_url) == migrate.head()
    assert migrate.current(empty_url) == migrate.head()
    assert tables(empty_url) == {t.name for t in metadata.sorted_tables} | {migrate.VERSION_TABLE}
    # A schema.py change without its migration (or the reverse) shows up here.
    assert schema_differences(empty_url) == []
    # Running it again changes nothing.
    assert migrate.upgrade(empty_url) == migrate.head()
    ledger = Ledger(empty_url)
    try:
        assert ledger.record_received("acme", [order(1)], NOW) == 1
    finally:
        ledger.close()


def test_a_ledger_made_before_migrations_is_stamped_and_keeps_its_data(empty_url):
    # What DropStream did before migrations existed: create_all on every Ledger(); the
    # baseline is a frozen copy of that schema (schema.py at 132d2be).
    # Its rows are written as that code wrote them, into the baseline's tables (today's Ledger
    # writes columns later revisions added).
    from dropstream.codec import order_to_dict

    engine = create_engine(empty_url)
    baseline.metadata.create_all(engine)
    tables = baseline.metadata.tables
    with engine.begin() as conn:
        for n in (1, 2):
            received = order(n)
            conn.execute(
                tables["ds_orders"]
                .insert()
                .values(
                    connection="acme",
                    order_id=received.order_id,
                    number=received.number,
                    state="received",
                    reason="",
                    payload=order_to_dict(received),
                    received_at=NOW,
                    updated_at=NOW,
                )
            )
        conn.execute(
            tables["ds_watermarks"].insert().values(connection="acme", flow="orders", value=NOW)
        )
    engine.dispose()
    assert migrate.current(empty_url) is None

    assert migrate.upgrade(empty_url) == migrate.head()

    assert schema_differences(empty_url) == []
    ledger = Ledger(empty_url)
    try:
        assert ledger.order_counts("acme") == {"received": 2}
        assert ledger.watermark("acme", "orders") == NOW
        assert ledger.record_received("acme", [order(2), order(3)], NOW) == 1
    finally:
        ledger.close()


def test_an_unversioned_ledger_that_is_not_the_baseline_is_refused(empty_url):
    engine = create_engine(empty_url)
    baseline.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE ds_counters"))
    engine.dispose()
    with pytest.raises(ConfigurationError, match="table ds_counters is missing"):
        migrate.upgrade(empty_url)
    assert migrate.current(empty_url) is None  # nothing stamped


def test_the_command_line_upgrades_the_ledger_of_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        **os.environ,
        "DROPSTREAM_LEDGER_URL": url,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "include")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "dropstream.ledger", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"is at revision {migrate.head()}" in done.stdout
    assert migrate.current(url) == migrate.head()

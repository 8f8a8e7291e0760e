"""A throwaway PostgreSQL database on the local server (started by `make test` when missing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.metadata_db import SERVER_URL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database, dropped after the session; fails (never skips) with no server."""
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"dropstream_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL at {SERVER_URL} is not answering ({exc}); run `make test`, "
            "which installs and starts it"
        )
    url = SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()

from __future__ import annotations

import pytest

from dropstream.ledger import Ledger
from tests.ledgers import migrated


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    """A ledger on SQLite and, in a second run of the same test, on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    ledger = Ledger(migrated(url))
    if request.param == "postgresql":
        from dropstream.ledger import metadata

        with ledger.engine.begin() as conn:  # each test starts from empty tables
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    yield ledger
    ledger.close()

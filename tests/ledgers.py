"""Ledgers for tests, migrated the way a deployment migrates them (``python -m dropstream.ledger
upgrade``): constructing a Ledger creates no table."""

from __future__ import annotations

from pathlib import Path

from dropstream.ledger.migrate import upgrade


def migrated(url: str) -> str:
    """``url`` after upgrading its ledger to the newest revision."""
    upgrade(url)
    return url


def sqlite_ledger_url(folder: Path) -> str:
    """A migrated SQLite ledger in ``folder``."""
    return migrated(f"sqlite:///{folder / 'ledger.db'}")

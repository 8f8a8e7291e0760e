"""Alembic migrations of the ledger; run them with ``python -m dropstream.ledger upgrade``."""

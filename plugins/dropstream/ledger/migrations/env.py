"""Alembic environment: run on the connection ``dropstream.ledger.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from dropstream.ledger.migrate import VERSION_TABLE
from dropstream.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit(
        "run the ledger's migrations with `python -m dropstream.ledger upgrade`, not `alembic`"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,  # only autogenerate reads it: revisions never import schema.py
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copying them: autogenerate writes batch ops
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

"""inventory snapshots held by the zero-out guard

Revision 0006, follows 0005 (cancellations). Written 2026-11-30 for issue 11.
Self-contained: never import dropstream.ledger.schema here (it moves on; this file must not).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ds_inventory_snapshots",
        sa.Column("connection", sa.String(length=200), nullable=False),
        sa.Column("source_file", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept_run", sa.String(length=250), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connection", "source_file"),
    )


def downgrade() -> None:
    op.drop_table("ds_inventory_snapshots")

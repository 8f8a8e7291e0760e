"""reviews

Revision 0007, follows 0006 (inventory snapshots).
Held orders (and later other kinds) waiting for a person's answer in a dropstream_review run
(Airflow's Required Actions).
Self-contained: never import dropstream.ledger.schema here (it moves on; this file must not).
Use op.batch_alter_table for column changes, so SQLite ledgers migrate too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ds_reviews",
        sa.Column("connection", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("answer", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connection", "kind", "subject"),
    )
    with op.batch_alter_table("ds_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ds_reviews_review_id"), ["review_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ds_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ds_reviews_review_id"))
    op.drop_table("ds_reviews")

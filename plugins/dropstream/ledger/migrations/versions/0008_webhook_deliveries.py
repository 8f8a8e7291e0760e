"""webhook deliveries

Revision 0008, follows 0007 (reviews). Written 2026-11-30 for issue 14 (store webhooks).
Self-contained: never import dropstream.ledger.schema here (it moves on; this file must not).
Use op.batch_alter_table for column changes, so SQLite ledgers migrate too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ds_webhook_deliveries",
        sa.Column("connection", sa.String(length=200), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "delivery_id"),
    )
    with op.batch_alter_table("ds_webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ds_webhook_deliveries_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ds_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ds_webhook_deliveries_received_at"))
    op.drop_table("ds_webhook_deliveries")

"""cancellations and changes after sending

Revision 0005, follows 0004.
Self-contained: never import dropstream.ledger.schema here (it moves on; this file must not).
Use op.batch_alter_table for column changes, so SQLite ledgers migrate too.

- ``ds_orders.cancel_requested_at`` / ``cancel_reason``: the store (or an operator) cancelled an
  order the warehouse already has; ``cancel_file``: the cancel file that tells the warehouse.
- ``ds_orders.fingerprint`` / ``fingerprint_basis``: the order's lines and ship-to as the store
  showed them when it was last taken for sending, to notice a change after sending.
- ``ds_files.kind``: ``orders`` (an order file) or ``cancel`` (a cancel file).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ds_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text()))
        batch_op.add_column(sa.Column("cancel_file", sa.String(length=255)))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64)))
        batch_op.add_column(sa.Column("fingerprint_basis", sa.JSON()))
    with op.batch_alter_table("ds_files", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="orders")
        )


def downgrade() -> None:
    with op.batch_alter_table("ds_files", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("ds_orders", schema=None) as batch_op:
        batch_op.drop_column("fingerprint_basis")
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("cancel_file")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancel_requested_at")

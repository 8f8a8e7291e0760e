"""Baseline: the seven ledger tables as DropStream created them before migrations existed.

Revision 0001, the first. A ledger made by ``metadata.create_all`` of that schema is stamped
0001 by ``upgrade`` (after a check of its tables and columns) instead of running this.
"""

from __future__ import annotations

from alembic import op

from dropstream.ledger.migrations import baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    baseline.metadata.create_all(op.get_bind())


def downgrade() -> None:
    baseline.metadata.drop_all(op.get_bind())

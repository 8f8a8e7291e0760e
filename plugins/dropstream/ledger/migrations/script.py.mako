"""${message}

Revision ${up_revision}, follows ${down_revision | comma,n}. Written ${create_date}.
Self-contained: never import dropstream.ledger.schema here (it moves on; this file must not).
Use op.batch_alter_table for column changes, so SQLite ledgers migrate too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}

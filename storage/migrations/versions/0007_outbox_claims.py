"""outbox: when the current claim began, since when an attempt's outcome is unknown, open rows indexed

Revision ID: 0007
Revises: 0005

``claimed_at`` is the start of the current claim (a dispatcher renews ``claimed_until`` while it
sends, so the lease can be short). ``unsure_since`` is the start of the earliest attempt that may have
reached the receiver without an answer (a crash, a timeout, a 5xx after posting): before sending again,
the sender looks for what that attempt left (Slack: a message carrying the outbox key in its metadata).
``ix_outbox_open`` lets the claim walk only the rows not yet sent or dead, in id order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("unsure_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_open", ["id"], unique=False, postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_open", postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_column("unsure_since")
        batch_op.drop_column("claimed_at")

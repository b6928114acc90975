"""slack intake: every acknowledged Slack request stored before its workflow runs

Revision ID: 0017
Revises: 0018

``slack_intake`` holds the raw payload of each command, button click, form submission and shortcut,
inserted in one statement before Slack gets its acknowledgement; workers run the workflows from it,
and a start after a crash replays the rows not done. ``key`` (from Slack's ids) is unique, so a Slack
retry is one row. ``ix_slack_intake_open`` lets the replay read only the open rows, and
``ix_slack_intake_finished_at`` the tick's prune only the old ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0017"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('pending', 'running')")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "slack_intake",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_intake")),
        sa.UniqueConstraint("key", name=op.f("uq_slack_intake_key")),
    )
    op.create_index("ix_slack_intake_open", "slack_intake", ["id"], postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index("ix_slack_intake_finished_at", "slack_intake", ["finished_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_slack_intake_finished_at", table_name="slack_intake")
    op.drop_index("ix_slack_intake_open", table_name="slack_intake", postgresql_where=OPEN, sqlite_where=OPEN)
    op.drop_table("slack_intake")

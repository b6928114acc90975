"""refused attempts counted per person, action and subject; deliveries indexed by time for pruning

Revision ID: 0006_refusals
Revises: 0006_indexes

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_refusals"
down_revision: str | Sequence[str] | None = "0006_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refusals",
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("attempted", sa.String(length=200), nullable=False),
        sa.Column("subject_type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "actor", "process", "attempted", "subject_type", "subject_id", name=op.f("pk_refusals")
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_at")
    op.drop_table("refusals")

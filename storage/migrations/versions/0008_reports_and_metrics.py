"""reports and metrics: once-per-period work, and indexes for period aggregates

Revision ID: 0008
Revises: 0006_refusals

- ``periodic_runs`` (name, period): the weekly digest, the monthly report and each metric's threshold
  breach happen once per period, even with two runtimes on one database.
- ``ix_incidents_reported_at``, ``ix_incidents_closed_at``, ``ix_changes_created_at``,
  ``ix_changes_closed_at``, ``ix_evidence_requests_due_at``: status, metrics and reports read one
  period's rows by these times instead of scanning every incident, change or request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006_refusals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("incidents", "ix_incidents_reported_at", "reported_at"),
    ("incidents", "ix_incidents_closed_at", "closed_at"),
    ("changes", "ix_changes_created_at", "created_at"),
    ("changes", "ix_changes_closed_at", "closed_at"),
    ("evidence_requests", "ix_evidence_requests_due_at", "due_at"),
)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "period", name=op.f("pk_periodic_runs")),
    )
    for table, name, column in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    for table, name, _column in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    op.drop_table("periodic_runs")

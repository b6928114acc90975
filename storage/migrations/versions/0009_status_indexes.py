"""status indexes: open work by state, so ``/isms status`` reads the open rows, not the history

Revision ID: 0009
Revises: 0011

The number 0009 was kept for this migration while 0010 and 0011 were written; it follows 0011.

- ``ix_evidence_requests_status_process_due`` (status, process, due_at): the open requests per process
  with the oldest due date (``WHERE status IN ('open', 'submitted') GROUP BY process``) from the open
  rows alone; without it SQLite walked every request in (process, due_at) order.
- ``ix_incidents_status_reported_at`` (status, reported_at): the oldest open incident; without it the
  databases walked ``reported_at`` from the oldest incident until the first open one.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("evidence_requests", "ix_evidence_requests_status_process_due", ("status", "process", "due_at")),
    ("incidents", "ix_incidents_status_reported_at", ("status", "reported_at")),
)


def upgrade() -> None:
    """Upgrade schema."""
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, list(columns), unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)

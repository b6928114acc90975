"""status at a million records: the first answer on the request, and covering indexes

Revision ID: 0018
Revises: 0016

``/isms status`` and the monthly report aggregate the period's rows. At 1M records most of their
time went to two correlated EXISTS per evidence request (is there an answer; is there one on time)
and to reading table rows behind narrow indexes. So:

- ``evidence_requests.first_answer_at``: when the first answer was handed in, set with it (backfilled
  here from the submissions); answered = not null, on time = ``first_answer_at <= due_at``.
- ``ix_evidence_requests_period`` (process, due_at, owner_id, status, first_answer_at): the period's
  health per process and on-time rate per owner from the index alone, in process order.
- ``ix_evidence_submissions_undecided`` (request_id, partial: decision IS NULL): answers to review.
- ``ix_incidents_closed_severity`` (closed_at, severity, reported_at) and
  ``ix_incidents_reported_severity`` (reported_at, severity, classified_at): times to resolve and to
  triage per severity; ``ix_changes_lead_time`` (state, closed_at, created_at): change lead times.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0018"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    (
        "evidence_requests",
        "ix_evidence_requests_period",
        ("process", "due_at", "owner_id", "status", "first_answer_at"),
    ),
    ("incidents", "ix_incidents_closed_severity", ("closed_at", "severity", "reported_at")),
    ("incidents", "ix_incidents_reported_severity", ("reported_at", "severity", "classified_at")),
    ("changes", "ix_changes_lead_time", ("state", "closed_at", "created_at")),
)
UNDECIDED = sa.text("decision IS NULL")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("evidence_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_answer_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE evidence_requests SET first_answer_at = (SELECT min(evidence_submissions.submitted_at) "
        "FROM evidence_submissions WHERE evidence_submissions.request_id = evidence_requests.id)"
    )
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, list(columns), unique=False)
    with op.batch_alter_table("evidence_submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_submissions_undecided",
            ["request_id"],
            unique=False,
            postgresql_where=UNDECIDED,
            sqlite_where=UNDECIDED,
        )
    _refresh_statistics()


def _refresh_statistics() -> None:
    """Statistics for the new index where the database keeps any: SQLite with statistics for the old
    indexes only kept choosing ``ix_evidence_requests_process_due`` over the covering one. A SQLite
    database never analysed is left so (statistics of a young, small store would mislead later)."""
    bind = op.get_bind()
    if (
        bind.dialect.name == "postgresql"
        or bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        op.execute("ANALYZE evidence_requests")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("evidence_submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_submissions_undecided", postgresql_where=UNDECIDED, sqlite_where=UNDECIDED)
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    with op.batch_alter_table("evidence_requests", schema=None) as batch_op:
        batch_op.drop_column("first_answer_at")

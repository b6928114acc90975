"""audits and improvements: the internal audit programme, its findings, the improvement register

Revision ID: 0013
Revises: 0012

- ``audits``: one row per audit (scope, criteria, auditors, auditees, kick-off, evidence and report
  dates, state) with its next reminder's time (``next_reminder_at``, indexed) for the tick.
- ``audit_findings``: nonconformities, observations and opportunities, with the change request of a
  nonconformity's corrective action.
- ``improvements``: the IMPR register (suggestions, and what audits hand over).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("plan_key", sa.String(length=60), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("processes", sa.String(length=400), nullable=False),
        sa.Column("controls", sa.Text(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("auditors", sa.Text(), nullable=False),
        sa.Column("auditees", sa.Text(), nullable=False),
        sa.Column("kickoff", sa.Date(), nullable=False),
        sa.Column("evidence_due", sa.Date(), nullable=False),
        sa.Column("report_due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("planned_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminder_step", sa.Integer(), nullable=False),
        sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audits")),
        sa.UniqueConstraint("plan_key", name=op.f("uq_audits_plan_key")),
        sa.UniqueConstraint("ref", name=op.f("uq_audits_ref")),
    )
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.create_index("ix_audits_next_reminder", ["next_reminder_at"], unique=False)
        batch_op.create_index("ix_audits_state", ["state"], unique=False)

    op.create_table(
        "improvements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("author_to", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("change_ref", sa.String(length=20), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvements")),
        sa.UniqueConstraint("ref", name=op.f("uq_improvements_ref")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_improvements_source_ref")),
    )
    with op.batch_alter_table("improvements", schema=None) as batch_op:
        batch_op.create_index("ix_improvements_state", ["state"], unique=False)

    op.create_table(
        "audit_findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("audit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("clause", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("corrective_action", sa.Text(), nullable=False),
        sa.Column("change_ref", sa.String(length=20), nullable=True),
        sa.Column("change_state", sa.String(length=24), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("raised_by", sa.String(length=128), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["audit_id"], ["audits.id"], name=op.f("fk_audit_findings_audit_id_audits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_findings")),
        sa.UniqueConstraint("ref", name=op.f("uq_audit_findings_ref")),
    )
    with op.batch_alter_table("audit_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_findings_audit_id"), ["audit_id"], unique=False)
        batch_op.create_index("ix_audit_findings_state_kind", ["state", "kind"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("audit_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_findings_state_kind")
        batch_op.drop_index(batch_op.f("ix_audit_findings_audit_id"))

    op.drop_table("audit_findings")
    with op.batch_alter_table("improvements", schema=None) as batch_op:
        batch_op.drop_index("ix_improvements_state")

    op.drop_table("improvements")
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_index("ix_audits_state")
        batch_op.drop_index("ix_audits_next_reminder")

    op.drop_table("audits")

"""incidents (process INC): reports, timeline, regulatory clocks, timers, requested changes

Revision ID: 0002
Revises: 0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter_id", sa.String(length=128), nullable=False),
        sa.Column("reporter_name", sa.String(length=200), nullable=False),
        sa.Column("reporter_to", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("affected", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("personal_data", sa.String(length=8), nullable=True),
        sa.Column("links", sa.Text(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("source_permalink", sa.String(length=500), nullable=True),
        sa.Column("source_author", sa.String(length=32), nullable=True),
        sa.Column("severity", sa.String(length=2), nullable=True),
        sa.Column("handler_id", sa.String(length=64), nullable=True),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("classified_by", sa.String(length=128), nullable=True),
        sa.Column("not_incident_reason", sa.Text(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_by", sa.String(length=128), nullable=True),
        sa.Column("emergency_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("lessons", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("ref", name=op.f("uq_incidents_ref")),
        sa.UniqueConstraint("request_key", name=op.f("uq_incidents_request_key")),
        sa.UniqueConstraint("year", "number", name=op.f("uq_incidents_year")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_reporter_id"), ["reporter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)
    op.create_table(
        "incident_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("change_ref", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_changes_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_changes")),
        sa.UniqueConstraint("change_ref", name=op.f("uq_incident_changes_change_ref")),
    )
    with op.batch_alter_table("incident_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_changes_incident_id"), ["incident_id"], unique=False)
    op.create_table(
        "incident_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_by", sa.String(length=128), nullable=True),
        sa.Column("notified_note", sa.Text(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_clocks_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_clocks")),
        sa.UniqueConstraint("incident_id", "kind", name=op.f("uq_incident_clocks_incident_id")),
    )
    op.create_table(
        "incident_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_entries_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_entries")),
    )
    with op.batch_alter_table("incident_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_entries_incident_id"), ["incident_id"], unique=False)
    op.create_table(
        "incident_timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_timers_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_timers")),
        sa.UniqueConstraint("incident_id", "kind", name=op.f("uq_incident_timers_incident_id")),
    )
    with op.batch_alter_table("incident_timers", schema=None) as batch_op:
        batch_op.create_index("ix_incident_timers_due", ["sent_at", "due_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("incident_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_timers_due")
    op.drop_table("incident_timers")
    with op.batch_alter_table("incident_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_entries_incident_id"))
    op.drop_table("incident_entries")
    op.drop_table("incident_clocks")
    with op.batch_alter_table("incident_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_changes_incident_id"))
    op.drop_table("incident_changes")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
        batch_op.drop_index(batch_op.f("ix_incidents_reporter_id"))
    op.drop_table("incidents")

"""incident rooms: the private Slack channel of a serious incident

Revision ID: 0016
Revises: 0014

- ``incident_rooms``: at most one per incident (unique ``incident_id``): the channel's name, who opened
  it and when, Slack's channel id once the create effect was sent (or why Slack refused), and when it
  is (to be) archived after closure.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("archive_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
        sa.UniqueConstraint("channel_id"),
    )
    op.create_index("ix_incident_rooms_waiting", "incident_rooms", ["channel_id", "error"])
    op.create_index("ix_incident_rooms_archive", "incident_rooms", ["archived_at", "archive_at"])


def downgrade() -> None:
    op.drop_index("ix_incident_rooms_archive", table_name="incident_rooms")
    op.drop_index("ix_incident_rooms_waiting", table_name="incident_rooms")
    op.drop_table("incident_rooms")

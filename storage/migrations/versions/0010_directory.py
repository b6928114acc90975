"""directory: people as Entra ID knows them, conflicts with the organisation file, the cache's age

Revision ID: 0010
Revises: 0008

- ``directory_people``: per e-mail, whether the directory has the person, their Entra ID object id,
  department, manager's e-mail and the roles their group memberships grant, with when it was fetched.
- ``directory_conflicts``: each disagreement between the organisation file and the directory, once.
- ``directory_sync``: when the cache was last refreshed and the last failure.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "directory_people",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("entra_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("department", sa.String(length=256), nullable=True),
        sa.Column("manager_email", sa.String(length=320), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_directory_people")),
    )
    with op.batch_alter_table("directory_people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_directory_people_person_id"), ["person_id"], unique=False)
    op.create_table(
        "directory_conflicts",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("person", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_directory_conflicts")),
    )
    op.create_table(
        "directory_sync",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_directory_sync")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("directory_sync")
    op.drop_table("directory_conflicts")
    with op.batch_alter_table("directory_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_people_person_id"))
    op.drop_table("directory_people")

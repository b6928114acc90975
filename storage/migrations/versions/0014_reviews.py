"""reviews: management reviews (GOV) with their input packs, and the actions they raised

Revision ID: 0014
Revises: 0015

- ``reviews``: one row per management review: when, who, its input pack (Markdown, HTML, SHA-256),
  when the pack is due (NULL once assembled), the invitation's sequence and the decisions.
- ``review_actions``: each action a review decided, with owner, due date and its change request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chair", sa.String(length=64), nullable=False),
        sa.Column("attendees", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pack_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pack_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pack_sha256", sa.String(length=64), nullable=True),
        sa.Column("pack_markdown", sa.Text(), nullable=True),
        sa.Column("pack_html", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("ref", name=op.f("uq_reviews_ref")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_pack_due_at"), ["pack_due_at"], unique=False)
        batch_op.create_index("ix_reviews_starts_at", ["starts_at"], unique=False)
    op.create_table(
        "review_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_ref", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("change_ref", sa.String(length=32), nullable=False),
        sa.Column("change_state", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_actions")),
    )
    with op.batch_alter_table("review_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_actions_review_ref"), ["review_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_actions_change_ref"), ["change_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_actions_change_ref"))
        batch_op.drop_index(batch_op.f("ix_review_actions_review_ref"))
    op.drop_table("review_actions")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_starts_at")
        batch_op.drop_index(batch_op.f("ix_reviews_pack_due_at"))
    op.drop_table("reviews")

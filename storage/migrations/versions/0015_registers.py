"""registers: risks, controls, assets, suppliers, requirements and interested parties

Revision ID: 0015
Revises: 0013

One table for every register (see storage/models/registers.py for why): typed columns for what all
kinds share and what is queried, kind-specific fields as JSON.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "register_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_items")),
        sa.UniqueConstraint("kind", "ref", name="uq_register_items_kind_ref"),
    )
    op.create_index("ix_register_items_kind_owner", "register_items", ["kind", "owner"])
    op.create_index("ix_register_items_due_at", "register_items", ["due_at"])
    op.create_index("ix_register_items_review_at", "register_items", ["review_at"])


def downgrade() -> None:
    op.drop_index("ix_register_items_review_at", table_name="register_items")
    op.drop_index("ix_register_items_due_at", table_name="register_items")
    op.drop_index("ix_register_items_kind_owner", table_name="register_items")
    op.drop_table("register_items")

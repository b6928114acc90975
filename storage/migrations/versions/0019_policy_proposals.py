"""policy proposals: a version carries the details it proposes for its policy

Revision ID: 0019
Revises: 0017

Submitting a version used to overwrite the policy's title, owner, approver, audience and next review
at once, so the register showed them before approval and kept them after a rejection. The version
now keeps them (``title``, ``owner_id``, ``audience``, ``next_review``; the approver was already
there) and approval copies them onto the policy. Existing versions are filled from their policy: the
best that is known of what they proposed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0019"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("title", sa.String(length=200)),
    ("owner_id", sa.String(length=64)),
    ("audience", sa.String(length=200)),
    ("next_review", sa.Date()),
)


def upgrade() -> None:
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    for name, _ in COLUMNS:
        op.execute(
            f"UPDATE policy_versions SET {name} = "
            f"(SELECT policies.{name} FROM policies WHERE policies.id = policy_versions.policy_id)"
        )
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.alter_column(name, existing_type=kind, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)

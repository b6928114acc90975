"""awareness: campaigns and their assignments (AWR), the policy register and its versions (POL)

Revision ID: 0012
Revises: 0009

- ``campaigns``: a training or policy acknowledgement with its material, audience and due date.
- ``campaign_assignments``: one row per person of a campaign, with the next reminder's due time.
- ``policies`` and ``policy_versions``: the register, every version kept with its decision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "campaigns",
        sa.Column("id", BigId, nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("policy_id", sa.String(length=40), nullable=True),
        sa.Column("policy_version", sa.String(length=20), nullable=True),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_before", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("ref", name=op.f("uq_campaigns_ref")),
    )
    op.create_table(
        "campaign_assignments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_assignments_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_assignments")),
        sa.UniqueConstraint("campaign_id", "person_id", name="uq_campaign_assignments_campaign_person"),
    )
    with op.batch_alter_table("campaign_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_assignments_next_action", ["next_action_at"], unique=False)
        batch_op.create_index(
            "ix_campaign_assignments_campaign_status", ["campaign_id", "status", "department"], unique=False
        )
        batch_op.create_index("ix_campaign_assignments_person_status", ["person_id", "status"], unique=False)
    op.create_table(
        "policies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("approver_id", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=True),
        sa.Column("next_review", sa.Date(), nullable=False),
        sa.Column("review_asked_for", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )
    op.create_table(
        "policy_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("policy_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("slack_file_id", sa.String(length=64), nullable=True),
        sa.Column("file_error", sa.String(length=500), nullable=True),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("campaign_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_policy_versions_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], name=op.f("fk_policy_versions_policy_id_policies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint("policy_id", "version", name="uq_policy_versions_policy_version"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("policy_versions")
    op.drop_table("policies")
    with op.batch_alter_table("campaign_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_assignments_person_status")
        batch_op.drop_index("ix_campaign_assignments_campaign_status")
        batch_op.drop_index("ix_campaign_assignments_next_action")
    op.drop_table("campaign_assignments")
    op.drop_table("campaigns")

"""incident clock decisions: what the dpo decided about a regulatory deadline

Revision ID: 0011
Revises: 0010

- ``incident_clocks.decision``: ``authority`` (the authority was notified), ``people`` (the people
  affected were notified) or ``not_notifiable`` (assessed as unlikely to result in a risk; the reason
  is in ``notified_note``). Each one ends the clock's reminders; rows from before hold NULL, read as
  ``authority``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident_clocks") as batch:
        batch.add_column(sa.Column("decision", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident_clocks") as batch:
        batch.drop_column("decision")

"""indexes for due work and paged lists: the tick reads what is due, a list reads only its page

Revision ID: 0006_indexes
Revises: 0007

- ``ix_changes_tracker_open`` (tracker, closed_at): the Jira poll asks whether any open change waits
  on Jira; without it every tick scanned all changes.
- ``ix_changes_requester_open`` (requester, closed_at, id): an employee's ``/isms changes`` page.
- ``ix_incidents_reporter_listed`` (reporter_id, id): ``/incident mine``, newest first, one page.
- ``ix_incident_clocks_running`` (due_at, only running clocks): ``/isms incidents`` and the Home.
- ``ix_evidence_requests_process_due`` (process, due_at, id): ``/isms evidence all`` in page order.
- ``ix_evidence_files_unfetched`` (id, only files without a hash or an error): the tick's hash
  collection, which otherwise scanned every evidence file ever shared.
Incident timers (``ix_incident_timers_due``) and evidence requests (``ix_evidence_requests_next_action``)
already had their due-time indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_indexes"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("notified_at IS NULL AND stopped_at IS NULL")
UNFETCHED = sa.text("fetched_at IS NULL AND fetch_error IS NULL")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_tracker_open", ["tracker", "closed_at"], unique=False)
        batch_op.create_index("ix_changes_requester_open", ["requester", "closed_at", "id"], unique=False)
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_reporter_listed", ["reporter_id", "id"], unique=False)
    with op.batch_alter_table("incident_clocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_clocks_running", ["due_at"], unique=False, postgresql_where=RUNNING, sqlite_where=RUNNING
        )
    with op.batch_alter_table("evidence_requests", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_requests_process_due", ["process", "due_at", "id"], unique=False)
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_files_unfetched", ["id"], unique=False, postgresql_where=UNFETCHED, sqlite_where=UNFETCHED
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_files_unfetched")
    with op.batch_alter_table("evidence_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_requests_process_due")
    with op.batch_alter_table("incident_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_clocks_running")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_reporter_listed")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_requester_open")
        batch_op.drop_index("ix_changes_tracker_open")

"""The evidence programme's due work, run by the scheduler's tick (once per database)."""

from __future__ import annotations

from workflows.evidence.activities import create_due_requests
from workflows.evidence.files import collect_file_hashes
from workflows.evidence.ladder import advance_requests
from workflows.kernel.work import Context


def due_evidence(ctx: Context) -> None:
    """Create due requests, climb the reminder ladder, collect fetched file hashes; each is idempotent."""
    create_due_requests(ctx)
    advance_requests(ctx)
    collect_file_hashes(ctx)

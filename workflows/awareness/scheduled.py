"""AWR's due work for the scheduler's tick: campaign reminders and the monthly digest of lessons."""

from __future__ import annotations

from workflows.awareness.ladder import advance_assignments
from workflows.kernel.work import Context


def remind(ctx: Context) -> None:
    """Ask, remind and escalate whatever is due now; safe to run twice (each step is keyed)."""
    advance_assignments(ctx)

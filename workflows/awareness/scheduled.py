"""AWR's due work for the scheduler's tick: campaign reminders and the monthly digest of lessons."""

from __future__ import annotations

from workflows.awareness.ladder import advance_assignments
from workflows.awareness.lessons import lessons_digest
from workflows.kernel.work import Context


def remind(ctx: Context) -> None:
    """Ask, remind and escalate whatever is due now; safe to run twice (each step is keyed)."""
    advance_assignments(ctx)


def digest(ctx: Context) -> None:
    """The monthly digest of lessons from incidents, once per month."""
    lessons_digest(ctx)

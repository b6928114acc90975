"""Due work of change management, run by the scheduler's tick."""

from __future__ import annotations

from sqlalchemy import select

from storage.models.changes import Change
from workflows.changes.tracker import COMMON_LABEL, JIRA, POLL
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context


def queue_poll(ctx: Context) -> None:
    """Every minute: queue one poll per interval while a change waits on Jira.

    The poll goes through the outbox so its key deduplicates it across replicas and a throttled
    tracker pauses it with the creations. It is only queued when some open change has a Jira issue:
    the local tracker applies its updates at once and needs no poll.
    """
    settings = ctx.org.changes
    if settings.poll_minutes == 0:
        return
    now = ctx.clock()
    with ctx.read() as session:
        waiting = session.scalar(select(Change.id).where(Change.tracker == JIRA, Change.closed_at.is_(None)).limit(1))
    if waiting is None:
        return
    bucket = int(now.timestamp() // (settings.poll_minutes * 60))
    with ctx.work(SYSTEM) as work:
        work.effect(POLL, f"tracker-poll:{bucket}", {"label": COMMON_LABEL})

"""Due work: refresh the directory cache when it is older than ``microsoft365.refresh_minutes``.

Runs in the scheduler's tick (one leader per database). After a failure the next try waits
2, 4, 8 … minutes (at most the refresh interval), so an outage is not hammered every minute.
"""

from __future__ import annotations

from datetime import timedelta

from workflows.directory.flows import sync
from workflows.directory.service import is_stale, sync_state
from workflows.kernel.work import Context


def refresh_directory(ctx: Context) -> None:
    if ctx.directory is None:
        return
    with ctx.read() as session:
        if not is_stale(ctx, session):
            return
        state = sync_state(session)
        if state is not None and state.failures:
            wait = min(timedelta(minutes=2**state.failures), timedelta(minutes=ctx.org.microsoft365.refresh_minutes))
            if ctx.clock() - state.attempted_at < wait:
                return
    sync(ctx)

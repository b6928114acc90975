"""COM's entries that people call: ``/isms status [PROCESS]``. Reads, except the record an auditor's
access leaves (REC)."""

from __future__ import annotations

from workflows.communication import messages, service
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context


def status(ctx: Context, actor: Actor, process: str = "") -> Outcome:
    """The whole ISMS for overseers; one process in detail with ``process``; an employee's own items."""
    require(ctx, actor, EVERYONE, process="COM", what="the ISMS status")
    process = process.strip().upper()
    if process and process not in ctx.catalogue.ids:
        raise Refused(f"There is no process {process}. /isms processes lists them.")
    now = ctx.clock()
    period = service.current_period(ctx, now)
    with ctx.read() as session:
        overview = service.overview(session, ctx, actor, period, now)
        records = service.recent_records(session, process) if process and overview.whole else []
    if not overview.whole:
        return Outcome(reply=messages.own_status_message(ctx, overview, actor.name))
    service.record_auditor_access(ctx, actor, f"/isms status {process}".strip(), process or "all")
    if process:
        return Outcome(reply=messages.process_message(ctx, overview, process, records))
    return Outcome(reply=messages.status_message(ctx, overview))

"""COM's entries that people call: ``/isms status [PROCESS]``. Reads, except the record an auditor's
access leaves (REC)."""

from __future__ import annotations

from config.organisation import Role
from workflows.communication import messages, service
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message, Outcome
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


HOME_OVERVIEW = frozenset({Role.ISMS_MANAGER, Role.SECURITY_TEAM, Role.SECURITY_LEAD})
"""Whose App Home leads with the status overview (the people who run the ISMS day to day; management
and auditors ask ``/isms status``, where an auditor's access is recorded)."""


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """COM's App Home section: for the ISMS manager and the security team the status overview (the
    same message as ``/isms status``: counts first, then a line per process, incidents, changes,
    metrics); nothing for anybody else, whose own items the other processes' sections list."""
    if not actor.has(*HOME_OVERVIEW):
        return []
    now = ctx.clock()
    with ctx.read() as session:
        overview = service.overview(session, ctx, actor, service.current_period(ctx, now), now)
    return [messages.status_message(ctx, overview)]

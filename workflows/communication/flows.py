"""COM's entries that people call: ``/isms status [PROCESS]`` and ``/isms report [weekly|monthly]
[PERIOD]``. Status only reads, except the record an auditor's access leaves (REC); a report asked for
is a record and a file shared in the person's DMs."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from config.organisation import Role
from workflows.communication import digests, messages, reports, service
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.outreach.files import share_file
from workflows.performance import periods
from workflows.performance.periods import Period


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


REPORT_READERS = frozenset({Role.ISMS_MANAGER, Role.MANAGEMENT, Role.AUDITOR})
"""Who may ask for the weekly or monthly ISMS report in chat."""
SHAPES = {
    "weekly": (re.compile(r"^\d{4}-W\d{2}$", re.IGNORECASE), "week", "2026-W48"),
    "monthly": (re.compile(r"^\d{4}-\d{2}$"), "month", "2026-11"),
}
"""What period each report takes, and an example of it."""
REPORT_USAGE = "/isms report monthly 2026-11, /isms report weekly 2026-W48, or /isms report for last month"


def report(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms report [weekly|monthly] [PERIOD]``: the summary as the answer, the HTML report with its
    charts shared in the person's DMs. Without a period: last month, or this week (as the digest).
    A retry of the same request (same ``key``) shares the file once."""
    require(ctx, actor, REPORT_READERS, process="COM", what="the ISMS reports")
    now = ctx.clock()
    kind, period = _report_period(ctx, text, now)
    summary = digests.weekly(ctx, now, period) if kind == "weekly" else digests.monthly(ctx, now, period)
    file = reports.html_file(ctx, "status" if kind == "weekly" else "monthly", period, now)
    service.record_auditor_access(ctx, actor, f"/isms report {kind} {period.label}", period.label)
    with ctx.work(actor) as work:
        if work.once(f"com.report:{key}"):
            digest = share_file(
                work,
                Recipient.person(actor.id),
                f"com.report:{key}"[:200],
                filename=file.filename,
                content=file.content,
                title=file.title,
                comment=f"{summary.text}: the full report with charts, as you asked.",
            )
            work.record(
                "COM",
                "report-requested",
                ("report", f"{kind} {period.label}"),
                {"to": actor.id, "file": file.filename, "sha256": digest},
            )
    return Outcome(
        reply=Message(
            text=summary.text,
            body=summary.body,
            footer=f"The full report with charts ({file.filename}) is on its way to your direct messages.",
        )
    )


def _report_period(ctx: Context, text: str, now: datetime) -> tuple[str, Period]:
    """Which report of which period the words ask for; ``Refused`` with examples when they cannot be read."""
    words = text.split()
    kind = "monthly"
    if words and words[0].lower() in ("weekly", "monthly"):
        kind = words.pop(0).lower()
    zone = ctx.org.zone
    if not words:
        if kind == "weekly":
            return kind, periods.week_of(now, zone)
        return kind, periods.month_of(periods.month_of(now, zone).start - timedelta(days=1), zone)
    wanted = " ".join(words)
    pattern, noun, example = SHAPES[kind]
    try:
        period = periods.parse(wanted, zone, now) if pattern.match(wanted) else None
    except Refused:
        period = None
    if period is None:
        raise Refused(f"I cannot read '{wanted}' as a {noun} such as {example}. Try {REPORT_USAGE}.")
    if period.start > now:
        raise Refused(f"{period.label} has not begun yet. Try {REPORT_USAGE}.")
    return kind, period

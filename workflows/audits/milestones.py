"""An audit's calendar: the kick-off, evidence due and report due dates, the reminders before each, and
which of them is next (``next_reminder_at``).

Every step is at the organisation's ``send_at`` time on its day, in the organisation's timezone, moved
out of quiet hours (nights and the weekend) to the next working morning. The kick-off itself is a step
(``start``): the tick starts the audit then and asks the auditees for evidence. When several steps came
due while the bot was down, only the latest reminder goes out (one message, not a burst), but the
start is never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from storage.models.audits import Audit
from workflows.kernel.quiet_hours import next_allowed
from workflows.kernel.work import Context

Milestone = Literal["kickoff", "evidence", "report"]
MILESTONES: tuple[Milestone, ...] = ("kickoff", "evidence", "report")


@dataclass(frozen=True)
class Step:
    kind: Literal["remind", "start"]
    milestone: Milestone
    days: int
    """Days before the milestone (0: its day)."""
    at: datetime


def day_of(audit: Audit, milestone: Milestone) -> date:
    return {"kickoff": audit.kickoff, "evidence": audit.evidence_due, "report": audit.report_due}[milestone]


def moment(ctx: Context, day: date) -> datetime:
    """``send_at`` on ``day`` in the organisation's zone, out of quiet hours."""
    zone = ctx.org.zone
    nominal = datetime.combine(day, ctx.org.activities.send_at, tzinfo=zone)
    return next_allowed(nominal, zone, ctx.org.activities.quiet_hours)


def _local_day(ctx: Context, moment: datetime) -> date:
    return moment.astimezone(ctx.org.zone).date()


def steps(ctx: Context, audit: Audit) -> list[Step]:
    """Every step of the audit in time order (the start before a reminder at the same moment)."""
    start = Step("start", "kickoff", 0, moment(ctx, audit.kickoff))
    found = [start]
    for milestone in MILESTONES:
        day = day_of(audit, milestone)
        for days in ctx.org.audits.remind_before_days:
            if milestone == "kickoff" and days == 0:
                continue  # the start message says it on the day
            at = moment(ctx, day - timedelta(days=days))
            if milestone == "kickoff" and _local_day(ctx, at) >= audit.kickoff:
                continue  # moved out of a weekend onto the kick-off day: the start message says it
            if milestone != "kickoff" and at < start.at:
                continue  # nobody has an evidence request to answer before the kick-off
            found.append(Step("remind", milestone, days, at))
    return sorted(found, key=lambda step: (step.at, step.kind != "start"))


def schedule(ctx: Context, audit: Audit, first: int, now: datetime) -> None:
    """Point the audit at its first step from ``first`` on that is still ahead; a start that has not
    happened is never passed over (it is due now)."""
    plan = steps(ctx, audit)
    for position in range(first, len(plan)):
        step = plan[position]
        if step.at > now or (step.kind == "start" and audit.started_at is None):
            audit.reminder_step, audit.next_reminder_at = position, max(step.at, now)
            return
    audit.reminder_step, audit.next_reminder_at = len(plan), None

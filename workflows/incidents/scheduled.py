"""The every-minute job of process INC: send every incident reminder whose time has come.

The steps keep one timer row per reminder that may fall due (``flows`` applies the clocks' plan), so
this job only finds the rows whose time has come, each sent exactly once: it is marked sent in the
same transaction as the messages it queues, the thread line and the record.
"""

from __future__ import annotations

from sqlalchemy import select

from config.organisation import Role
from storage.db import is_postgresql
from storage.models.incidents import Incident, IncidentClock, IncidentTimer
from workflows.incidents import messages
from workflows.incidents.clocks import OVERDUE_TIMERS
from workflows.incidents.lifecycle import ESCALATION_ROLES
from workflows.incidents.service import dpo
from workflows.incidents.timeline import add_line, refresh_post, tell_people
from workflows.kernel.actors import SYSTEM
from workflows.kernel.people import person_name, with_role
from workflows.kernel.work import Context, Work

DUE_BATCH = 500


def send_due_reminders(ctx: Context) -> None:
    """Send every incident reminder whose time has come; each timer row goes out once.

    Locks the incident before its timer, in the same order as every triage step, so a reminder and a
    click on the same incident wait for each other instead of deadlocking on PostgreSQL.
    """
    with ctx.read() as session:
        due_now = session.execute(
            select(IncidentTimer.id, IncidentTimer.incident_id)
            .where(IncidentTimer.sent_at.is_(None), IncidentTimer.due_at <= ctx.clock())
            .order_by(IncidentTimer.due_at, IncidentTimer.id)
            .limit(DUE_BATCH)
        ).all()
    for timer_id, incident_id in due_now:
        with ctx.work(SYSTEM) as work:
            locking = is_postgresql(work.session)
            incident = work.session.get(Incident, incident_id, with_for_update=True if locking else None)
            query = select(IncidentTimer).where(IncidentTimer.id == timer_id, IncidentTimer.sent_at.is_(None))
            timer = work.session.scalar(query.with_for_update(skip_locked=True) if locking else query)
            if incident is None or timer is None:
                continue
            _fire(work, incident, timer)
            timer.sent_at = work.now


def _fire(work: Work, incident: Incident, timer: IncidentTimer) -> None:
    if timer.kind in OVERDUE_TIMERS:
        _overdue(work, incident, timer)
        return
    _, clock_kind, offset = timer.kind.split(":")
    clock = work.session.scalar(
        select(IncidentClock).where(IncidentClock.incident_id == incident.id, IncidentClock.kind == clock_kind)
    )
    assert clock is not None
    _remind_dpo(work, incident, clock, timer, passed=offset == "due")


def _overdue(work: Work, incident: Incident, timer: IncidentTimer) -> None:
    """Time to triage or to resolve has passed: remind the handler, escalate to lead and manager."""
    ctx = work.ctx
    what = messages.overdue(ctx, incident, timer.kind)
    key = f"inc:{incident.ref}:timer:{timer.id}"
    if incident.handler_id:
        tell_people(work, [incident.handler_id], messages.about(incident, f"Reminder: {what}."), key)
    escalated = with_role(ctx.org, *ESCALATION_ROLES)
    tell_people(work, [p for p in escalated if p != incident.handler_id], messages.escalation(ctx, incident, what), key)
    reminded = f"reminded {person_name(ctx.org, incident.handler_id)}; " if incident.handler_id else ""
    line = f"Overdue: {what}. The bot {reminded}escalated to {messages.names(ctx, escalated)}."
    add_line(work, incident, "overdue", line)
    work.record(
        "INC",
        f"{timer.kind}-overdue",
        ("incident", incident.ref),
        {"due_at": timer.due_at.isoformat(), "handler": incident.handler_id, "escalated_to": escalated},
    )


def _overtaken(work: Work, timer: IncidentTimer) -> bool:
    """A later reminder for the same deadline is due too (the bot was down, or a clock started late):
    only the latest one is worth sending."""
    clock_prefix = timer.kind.rsplit(":", 1)[0] + ":"
    later = select(IncidentTimer.id).where(
        IncidentTimer.incident_id == timer.incident_id,
        IncidentTimer.kind.startswith(clock_prefix),
        IncidentTimer.sent_at.is_(None),
        IncidentTimer.due_at > timer.due_at,
        IncidentTimer.due_at <= work.now,
    )
    return work.session.scalar(later.limit(1)) is not None


def _remind_dpo(work: Work, incident: Incident, clock: IncidentClock, timer: IncidentTimer, *, passed: bool) -> None:
    """Before a regulatory deadline the dpo is reminded; once it has passed, the ISMS manager hears too."""
    ctx = work.ctx
    if not passed and _overtaken(work, timer):
        return
    text = messages.dpo_reminder(ctx, incident, clock, work.now, passed=passed)
    people = list(dict.fromkeys(dpo(ctx.org) + with_role(ctx.org, Role.ISMS_MANAGER))) if passed else dpo(ctx.org)
    tell_people(work, people, messages.dpo_message(incident, text), f"inc:{incident.ref}:timer:{timer.id}")
    add_line(work, incident, "clock", f"{text} Told {messages.names(ctx, people)}.")
    if passed:
        refresh_post(work, incident)  # the post now shows the clock as overdue
    work.record(
        "INC",
        "deadline-missed" if passed else "dpo-reminded",
        ("incident", incident.ref),
        {"clock": clock.kind, "due_at": clock.due_at.isoformat(), "to": people},
    )

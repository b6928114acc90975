"""Timers and regulatory clocks of incidents, and the every-minute job that sends what is due.

After every change to an incident, ``plan`` works out which reminders should exist (time to triage,
time to resolve, the dpo's reminders before each regulatory deadline) and brings the incident's
timer rows in line: unsent timers that no longer apply are dropped, moved ones get their new time,
sent ones stay as the proof of what went out. ``due`` then only has to send rows whose time has
come, each exactly once, marking them sent in the same transaction as the messages it queues.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.db import is_postgresql
from storage.models.incidents import Incident, IncidentClock, IncidentTimer
from workflows.incidents.messages import (
    CLOCK_LABELS,
    add_line,
    clocks_of,
    headline,
    person_name,
    refresh_post,
    span,
    tell_people,
    when,
    with_role,
)
from workflows.kernel.actors import SYSTEM
from workflows.kernel.ui import Button, Message
from workflows.kernel.work import Context, Work

GDPR_WINDOW = timedelta(hours=72)
NIS2_EARLY_WARNING = timedelta(hours=24)
NIS2_NOTIFICATION = timedelta(hours=72)
DUE_BATCH = 500
PERSONAL_DATA_AT_RISK = ("yes", "not_sure")


def add_month(moment: datetime) -> datetime:
    """The same day and time one calendar month later (the last day when the month is shorter)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _wanted_clocks(work: Work, incident: Incident) -> dict[str, timedelta | None]:
    """Which regulatory clocks this incident needs; ``None`` marks the NIS2 final report, which
    counts from the notification rather than from the start."""
    if incident.status not in ("incident", "closed"):
        return {}
    rules = work.ctx.org.incidents.regulatory
    wanted: dict[str, timedelta | None] = {}
    if rules.gdpr and incident.personal_data in PERSONAL_DATA_AT_RISK:
        wanted["gdpr"] = GDPR_WINDOW
    if rules.nis2 and incident.severity in rules.nis2_severities:
        wanted.update(
            {
                "nis2-early-warning": NIS2_EARLY_WARNING,
                "nis2-notification": NIS2_NOTIFICATION,
                "nis2-final-report": None,
            }
        )
    return wanted


def final_report_due(clocks: dict[str, IncidentClock]) -> datetime:
    """One month after the NIS2 notification was made, or after it is due while it is not."""
    notification = clocks["nis2-notification"]
    return add_month(notification.notified_at or notification.due_at)


def _start_clocks(work: Work, incident: Incident, clocks: dict[str, IncidentClock]) -> list[IncidentClock]:
    """Start (or restart, after a reclassification) the clocks the incident now needs."""
    started = []
    for kind, window in _wanted_clocks(work, incident).items():
        clock = clocks.get(kind)
        if clock is not None and clock.stopped_at is None:
            continue
        if clock is None:
            clock = IncidentClock(incident_id=incident.id, kind=kind, started_at=work.now, due_at=work.now)
            work.session.add(clock)
            clocks[kind] = clock
        clock.started_at, clock.stopped_at = work.now, None
        clock.due_at = work.now + window if window is not None else final_report_due(clocks)
        started.append(clock)
    work.session.flush()
    return started


def plan(work: Work, incident: Incident) -> None:
    """Bring clocks and timers in line with the incident's state. Safe to call after any change."""
    clocks = {clock.kind: clock for clock in clocks_of(work, incident)}
    if incident.status == "not_incident":
        for clock in clocks.values():
            if clock.notified_at is None and clock.stopped_at is None:
                clock.stopped_at = work.now
                add_line(work, incident, "clock", f"{CLOCK_LABELS[clock.kind]} clock stopped: not an incident.")
    for clock in _start_clocks(work, incident, clocks):
        _announce(work, incident, clock)
    if "nis2-final-report" in clocks and clocks["nis2-final-report"].notified_at is None:
        clocks["nis2-final-report"].due_at = final_report_due(clocks)
    _sync(work, incident, _wanted_timers(work.ctx, incident, clocks.values()))


def _announce(work: Work, incident: Incident, clock: IncidentClock) -> None:
    label = CLOCK_LABELS[clock.kind]
    text = f"{label} clock started for {incident.ref}: due {when(work.ctx, clock.due_at)}."
    work.record(
        "INC",
        "clock-started",
        ("incident", incident.ref),
        {"clock": clock.kind, "started_at": clock.started_at.isoformat(), "due_at": clock.due_at.isoformat()},
    )
    add_line(work, incident, "clock", text)
    tell_people(work, _dpo(work.ctx), _dpo_message(incident, text), f"inc:{incident.ref}:clock:{clock.kind}:start")


def _wanted_timers(ctx: Context, incident: Incident, clocks: Iterable[IncidentClock]) -> dict[str, datetime]:
    settings = ctx.org.incidents
    level = settings.severities.get(incident.severity or settings.untriaged_severity)
    wanted: dict[str, datetime] = {}
    if incident.status == "new" or (incident.status == "incident" and incident.severity is None):
        wanted["triage"] = incident.reported_at + level.triage_within
    if incident.status == "incident" and incident.classified_at is not None:
        wanted["resolve"] = incident.classified_at + level.resolve_within
    for clock in clocks:
        if clock.notified_at is not None or clock.stopped_at is not None:
            continue
        for offset in settings.regulatory.remind_dpo_before:
            if clock.due_at - offset > clock.started_at:
                wanted[f"dpo:{clock.kind}:{int(offset.total_seconds() // 60)}"] = clock.due_at - offset
        wanted[f"dpo:{clock.kind}:due"] = clock.due_at
    return wanted


def _sync(work: Work, incident: Incident, wanted: dict[str, datetime]) -> None:
    timers = {
        t.kind: t for t in work.session.scalars(select(IncidentTimer).where(IncidentTimer.incident_id == incident.id))
    }
    for kind, timer in timers.items():
        if timer.sent_at is not None:
            continue
        if kind not in wanted:
            work.session.delete(timer)
        elif timer.due_at != wanted[kind]:
            timer.due_at = wanted[kind]
    for kind, due_at in wanted.items():
        if kind not in timers:
            work.session.add(IncidentTimer(incident_id=incident.id, kind=kind, due_at=due_at))
    work.session.flush()


def _dpo(ctx: Context) -> list[str]:
    """The dpo, or the ISMS manager where the organisation has named no dpo."""
    return with_role(ctx, "dpo") or with_role(ctx, "isms_manager")


def _dpo_message(incident: Incident, text: str) -> Message:
    return Message(
        text=text, body=headline(incident), buttons=(Button("incident_notified", "Record notification", incident.ref),)
    )


# -- the every-minute job ------------------------------------------------------------------------


def due(ctx: Context) -> None:
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
    if timer.kind in ("triage", "resolve"):
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
    settings = ctx.org.incidents
    level_id = incident.severity or settings.untriaged_severity
    level = settings.severities.get(level_id)
    if timer.kind == "triage":
        what = f"{incident.ref} was not triaged within {span(level.triage_within)} ({level_id} target)"
    else:
        what = f"{incident.ref} is not resolved within {span(level.resolve_within)} ({level_id} target)"
    key = f"inc:{incident.ref}:timer:{timer.id}"
    if incident.handler_id:
        tell_people(work, [incident.handler_id], Message(text=f"Reminder: {what}.", body=headline(incident)), key)
    escalated = with_role(ctx, "security_lead", "isms_manager")
    tell_people(
        work,
        [p for p in escalated if p != incident.handler_id],
        Message(
            text=f"Escalation: {what}.",
            body=headline(incident),
            fields=(("Handler", person_name(ctx, incident.handler_id)),),
        ),
        key,
    )
    names = ", ".join(person_name(ctx, p) for p in escalated)
    reminded = f"reminded {person_name(ctx, incident.handler_id)}; " if incident.handler_id else ""
    add_line(work, incident, "overdue", f"Overdue: {what}. The bot {reminded}escalated to {names}.")
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
    ctx = work.ctx
    if not passed and _overtaken(work, timer):
        return
    label = CLOCK_LABELS[clock.kind]
    key = f"inc:{incident.ref}:timer:{timer.id}"
    if passed:
        text = (
            f"Deadline passed: {label} for {incident.ref} was due {when(ctx, clock.due_at)} "
            f"and no notification is recorded."
        )
        people = list(dict.fromkeys(_dpo(ctx) + with_role(ctx, "isms_manager")))
    else:
        text = (
            f"Reminder: {label} for {incident.ref} is due {when(ctx, clock.due_at)} "
            f"(in {span(clock.due_at - work.now)})."
        )
        people = _dpo(ctx)
    tell_people(work, people, _dpo_message(incident, text), key)
    add_line(work, incident, "clock", f"{text} Told {', '.join(person_name(ctx, p) for p in people)}.")
    if passed:
        refresh_post(work, incident)  # the post now shows the clock as overdue
    work.record(
        "INC",
        "deadline-missed" if passed else "dpo-reminded",
        ("incident", incident.ref),
        {"clock": clock.kind, "due_at": clock.due_at.isoformat(), "to": people},
    )

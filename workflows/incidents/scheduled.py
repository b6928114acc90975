"""The every-minute job of process INC: send every incident reminder whose time has come.

The steps keep one timer row per reminder that may fall due (``flows`` applies the clocks' plan), so
this job only finds the rows whose time has come (``ix_incident_timers_due``: unsent, by due time),
each sent exactly once: it is marked sent in the same transaction as the messages it queues, the
thread line and the record. Due timers are handled in batches (``workflows/kernel/batches.py``): one
transaction per batch, a failing timer isolated and left for the next tick.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.db import is_postgresql
from storage.models.incidents import Incident, IncidentClock, IncidentTimer
from workflows.incidents import messages
from workflows.incidents.clocks import OVERDUE_TIMERS
from workflows.incidents.lifecycle import ESCALATION_ROLES
from workflows.incidents.service import dpo
from workflows.incidents.timeline import add_line, refresh_post, tell_people
from workflows.kernel.batches import run_batches
from workflows.kernel.people import person_name, with_role
from workflows.kernel.work import Context, Work


def send_due_reminders(ctx: Context) -> None:
    """Send every incident reminder whose time has come, in batches; each timer row goes out once."""
    now = ctx.clock()

    def find(session: Session, limit: int, passed: Collection[int]) -> Sequence[int]:
        query = (
            select(IncidentTimer.id)
            .where(IncidentTimer.sent_at.is_(None), IncidentTimer.due_at <= now)
            .order_by(IncidentTimer.due_at, IncidentTimer.id)
            .limit(limit)
        )
        if passed:
            query = query.where(IncidentTimer.id.notin_(passed))
        return list(session.scalars(query))

    run_batches(ctx, "incident timers", find, lambda work, ids: _send_batch(work, ids, now))


def _send_batch(work: Work, timer_ids: Sequence[int], now: datetime) -> list[int]:
    """Send what is still due of ``timer_ids`` in one transaction; returns the timers sent.

    Locks the incidents (in id order) before their timers, in the same order as every triage step,
    so a reminder and a click on the same incident wait for each other instead of deadlocking on
    PostgreSQL, and a second scheduler waits and then finds the timers sent. On SQLite the write
    lock of the transaction does the same.
    """
    session = work.session
    locking = is_postgresql(session)
    incident_ids = sorted(
        set(session.scalars(select(IncidentTimer.incident_id).where(IncidentTimer.id.in_(timer_ids))))
    )
    if not incident_ids:
        return []
    incidents_query = select(Incident).where(Incident.id.in_(incident_ids)).order_by(Incident.id)
    incidents = {i.id: i for i in session.scalars(incidents_query.with_for_update() if locking else incidents_query)}
    timers_query = (
        select(IncidentTimer)
        .where(IncidentTimer.id.in_(timer_ids), IncidentTimer.sent_at.is_(None), IncidentTimer.due_at <= now)
        .order_by(IncidentTimer.due_at, IncidentTimer.id)
    )
    timers = list(session.scalars(timers_query.with_for_update(skip_locked=True) if locking else timers_query))
    clocks = {
        (clock.incident_id, clock.kind): clock
        for clock in session.scalars(select(IncidentClock).where(IncidentClock.incident_id.in_(incident_ids)))
    }
    due = _Due(
        session.execute(
            select(IncidentTimer.incident_id, IncidentTimer.kind, IncidentTimer.due_at).where(
                IncidentTimer.incident_id.in_(incident_ids),
                IncidentTimer.sent_at.is_(None),
                IncidentTimer.due_at <= now,
            )
        ).all()
    )
    sent = []
    with session.no_autoflush:
        for timer in timers:
            incident = incidents.get(timer.incident_id)
            if incident is None:
                continue
            _fire(work, incident, timer, clocks, due)
            timer.sent_at = work.now
            sent.append(timer.id)
    return sent


class _Due:
    """The unsent timers due now of a batch's incidents, to see when a later reminder overtook one."""

    def __init__(self, rows: Iterable[tuple[int, str, datetime]]):
        self._latest: dict[tuple[int, str], datetime] = {}
        for incident_id, kind, due_at in rows:
            deadline = (incident_id, kind.rsplit(":", 1)[0])
            if deadline not in self._latest or due_at > self._latest[deadline]:
                self._latest[deadline] = due_at

    def overtaken(self, timer: IncidentTimer) -> bool:
        """A later reminder for the same deadline is due too (the bot was down, or a clock started late):
        only the latest one is worth sending."""
        latest = self._latest.get((timer.incident_id, timer.kind.rsplit(":", 1)[0]))
        return latest is not None and latest > timer.due_at


def _fire(
    work: Work,
    incident: Incident,
    timer: IncidentTimer,
    clocks: Mapping[tuple[int, str], IncidentClock],
    due: _Due,
) -> None:
    if timer.kind in OVERDUE_TIMERS:
        own = [clock for (incident_id, _), clock in clocks.items() if incident_id == incident.id]
        _overdue(work, incident, timer, own)
        return
    _, clock_kind, offset = timer.kind.split(":")
    clock = clocks.get((incident.id, clock_kind))
    assert clock is not None, f"timer {timer.kind} of {incident.ref} has no clock"
    passed = offset == "due"
    if not passed and due.overtaken(timer):
        return
    _remind_dpo(work, incident, clock, timer, passed=passed)


def _overdue(work: Work, incident: Incident, timer: IncidentTimer, clocks: Sequence[IncidentClock]) -> None:
    """Time to triage or to resolve has passed: remind the handler, escalate to lead and manager."""
    ctx = work.ctx
    what = messages.overdue(ctx, incident, timer.kind)
    key = f"inc:{incident.ref}:timer:{timer.id}"
    if incident.handler_id:
        tell_people(work, [incident.handler_id], messages.about(incident, f"Reminder: {what}."), key)
    escalated = with_role(ctx.org, *ESCALATION_ROLES)
    tell_people(
        work, [p for p in escalated if p != incident.handler_id], messages.escalation(ctx, incident, what, clocks), key
    )
    reminded = f"reminded {person_name(ctx.org, incident.handler_id)}; " if incident.handler_id else ""
    line = f"Overdue: {what}. The bot {reminded}escalated to {messages.names(ctx, escalated)}."
    add_line(work, incident, "overdue", line, key=f"inc:{incident.ref}:entry:timer:{timer.id}")
    work.record(
        "INC",
        f"{timer.kind}-overdue",
        ("incident", incident.ref),
        {"due_at": timer.due_at.isoformat(), "handler": incident.handler_id, "escalated_to": escalated},
    )


def _remind_dpo(work: Work, incident: Incident, clock: IncidentClock, timer: IncidentTimer, *, passed: bool) -> None:
    """Before a regulatory deadline the DPO is reminded; once it has passed, the ISMS manager hears too."""
    ctx = work.ctx
    text = messages.dpo_reminder(ctx, incident, clock, work.now, passed=passed)
    people = list(dict.fromkeys(dpo(ctx.org) + with_role(ctx.org, Role.ISMS_MANAGER))) if passed else dpo(ctx.org)
    tell_people(work, people, messages.dpo_message(incident, text), f"inc:{incident.ref}:timer:{timer.id}")
    add_line(
        work,
        incident,
        "clock",
        f"{text} Told {messages.names(ctx, people)}.",
        key=f"inc:{incident.ref}:entry:timer:{timer.id}",
    )
    if passed:
        refresh_post(work, incident)  # the post now shows the clock as overdue
    work.record(
        "INC",
        "deadline-missed" if passed else "dpo-reminded",
        ("incident", incident.ref),
        {"clock": clock.kind, "due_at": clock.due_at.isoformat(), "to": people},
    )

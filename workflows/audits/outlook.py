"""An audit's dates in Outlook when Microsoft 365 is on: the kick-off meeting with the auditors and the
auditees, and a slot for the report due date with the auditors (who write it). Both are outbox effects
of ``outreach/calendar.py`` keyed by the audit's reference, so Graph creates each once even when an
answer is lost. Moving a planned audit moves them (the same events, updated); cancelling an audit cancels
them, and the attendees get Outlook's cancellation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from storage.models.audits import Audit
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Work
from workflows.outreach.calendar import cancel_event, reschedule_event, schedule_event
from workflows.outreach.mail import address_of

REPORT_SLOT = timedelta(minutes=30)
"""The report due date's event: half an hour that ends when the report is due."""
LABELS = {"kickoff": "the kick-off", "report": "the report due date"}


def _event_key(audit: Audit, which: str) -> str:
    return f"aud:{audit.ref}:event:{which}"


def _at(work: Work, day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=work.ctx.org.zone)


Event = tuple[str, list[str], datetime, datetime]
"""Subject, attendees (person ids), start, end."""


def _events(work: Work, audit: Audit) -> dict[str, Event]:
    """The audit's events as they stand, those that reach somebody: none without Microsoft 365, and an
    event is left out when none of its attendees has an e-mail address (the DMs still go)."""
    if work.ctx.directory is None:
        return {}
    org = work.ctx.org
    team = list(dict.fromkeys([*audit.auditor_ids, *audit.auditee_ids]))
    kickoff = _at(work, audit.kickoff, org.audits.kickoff_at)
    due = _at(work, audit.report_due, org.activities.due_time)
    events: dict[str, Event] = {
        "kickoff": (
            f"Kick-off of internal audit {audit.ref}: {audit.title}",
            team,
            kickoff,
            kickoff + timedelta(minutes=org.audits.kickoff_minutes),
        ),
        "report": (f"Report due: internal audit {audit.ref}", audit.auditor_ids, due - REPORT_SLOT, due),
    }
    return {
        which: event
        for which, event in events.items()
        if any(address_of(org, Recipient.person(person)) for person in event[1])
    }


def schedule_events(work: Work, audit: Audit) -> list[str]:
    """Queue the audit's Outlook events; returns which ("kickoff", "report")."""
    events = _events(work, audit)
    for which, (subject, people, start, end) in events.items():
        schedule_event(
            work,
            _event_key(audit, which),
            subject=subject,
            start=start,
            end=end,
            attendees=[Recipient.person(person) for person in people],
            body=f"Scope: {', '.join(audit.process_ids)}. Criteria: {audit.criteria}",
        )
    return list(events)


def move_events(work: Work, audit: Audit) -> list[str]:
    """Move the events ``schedule_events`` made to the audit's new dates (the same events, updated)."""
    events = _events(work, audit)
    for which, (_subject, _people, start, end) in events.items():
        reschedule_event(work, _event_key(audit, which), start=start, end=end)
    return list(events)


def cancel_events(work: Work, audit: Audit, reason: str) -> list[str]:
    """Cancel the audit's events (attendees get Outlook's cancellation with ``reason``)."""
    events = _events(work, audit)
    for which in events:
        cancel_event(work, _event_key(audit, which), reason)
    return list(events)


def told(events: list[str], done: str = "") -> str:
    """The sentence for the planner's reply naming the events queued ("" when none); ``done`` says what
    happened to events that exist already ("moved", "cancelled")."""
    if not events:
        return ""
    named = " and ".join(LABELS[which] for which in events)
    if not done:
        return f" {named.capitalize()} will be in their Outlook calendars."
    return f" In their Outlook calendars {named} {'are' if len(events) > 1 else 'is'} {done}."

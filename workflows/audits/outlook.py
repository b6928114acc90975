"""An audit's dates in Outlook when Microsoft 365 is on: the kick-off meeting with the auditors and the
auditees, and a slot for the report due date with the auditors (who write it). Both are outbox effects
of ``outreach/calendar.py`` keyed by the audit's reference, so Graph creates each once even when an
answer is lost. Audits cannot be moved or cancelled today, so neither can these events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from storage.models.audits import Audit
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Work
from workflows.outreach.calendar import schedule_event
from workflows.outreach.mail import address_of

REPORT_SLOT = timedelta(minutes=30)
"""The report due date's event: half an hour that ends when the report is due."""
LABELS = {"kickoff": "the kick-off", "report": "the report due date"}


def _event_key(audit: Audit, which: str) -> str:
    return f"aud:{audit.ref}:event:{which}"


def _at(work: Work, day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=work.ctx.org.zone)


def schedule_events(work: Work, audit: Audit) -> list[str]:
    """Queue the audit's Outlook events; returns which ("kickoff", "report"). None without Microsoft 365,
    and an event is left out when none of its attendees has an e-mail address (the DMs still go)."""
    if work.ctx.directory is None:
        return []
    org = work.ctx.org
    team = list(dict.fromkeys([*audit.auditor_ids, *audit.auditee_ids]))
    kickoff = _at(work, audit.kickoff, org.audits.kickoff_at)
    due = _at(work, audit.report_due, org.activities.due_time)
    events = {
        "kickoff": (
            f"Kick-off of internal audit {audit.ref}: {audit.title}",
            team,
            kickoff,
            kickoff + timedelta(minutes=org.audits.kickoff_minutes),
        ),
        "report": (f"Report due: internal audit {audit.ref}", audit.auditor_ids, due - REPORT_SLOT, due),
    }
    scheduled = []
    for which, (subject, people, start, end) in events.items():
        attendees = [Recipient.person(person) for person in people]
        if not any(address_of(org, attendee) for attendee in attendees):
            continue
        schedule_event(
            work,
            _event_key(audit, which),
            subject=subject,
            start=start,
            end=end,
            attendees=attendees,
            body=f"Scope: {', '.join(audit.process_ids)}. Criteria: {audit.criteria}",
        )
        scheduled.append(which)
    return scheduled


def told(events: list[str]) -> str:
    """The sentence for the planner's reply naming the events queued ("" when none)."""
    if not events:
        return ""
    return f" {' and '.join(LABELS[which] for which in events).capitalize()} will be in their Outlook calendars."

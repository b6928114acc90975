"""What people see of an incident: the triage post, its thread, and the direct messages.

The triage post in the security team's channel is one message kept up to date in place (every
change queues a replacement of it), with one thread line per step. The reporter gets direct messages
about status only, worded by the ``incident_status.j2`` template an organisation may override; the
timeline and notes stay with the team.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from storage.models.incidents import Incident, IncidentChange, IncidentClock, IncidentEntry
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Button, Message
from workflows.kernel.work import Context, Work

TRIAGE_CHANNEL = "security_triage"
TRIAGE_ROLES = frozenset({"security_team", "security_lead", "isms_manager"})

STATUS_LABELS = {
    "new": "Reported, waiting for triage",
    "incident": "Incident, being handled",
    "not_incident": "Not an incident",
    "closed": "Closed",
}
PERSONAL_DATA_LABELS = {"yes": "Yes", "no": "No", "not_sure": "Not sure"}
CLOCK_LABELS = {
    "gdpr": "GDPR notification to the supervisory authority",
    "nis2-early-warning": "NIS2 early warning",
    "nis2-notification": "NIS2 incident notification",
    "nis2-final-report": "NIS2 final report",
}


def triage_key(incident: Incident) -> str:
    """Outbox key of the triage post; every update replaces it and every line threads under it."""
    return f"inc:{incident.ref}:triage"


def when(ctx: Context, moment: datetime) -> str:
    """A time as people in the organisation read it (its timezone)."""
    return moment.astimezone(ctx.org.zone).strftime("%a %d %b %Y %H:%M %Z")


def span(delta: timedelta) -> str:
    """A duration in the largest unit that keeps it readable: 15 min, 6 h, 3 days."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 72 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def person_name(ctx: Context, person_id: str | None) -> str:
    if person_id is None:
        return "nobody yet"
    person = ctx.org.person(person_id)
    return person.name if person else person_id


def headline(incident: Incident) -> str:
    first = incident.summary.strip().splitlines()[0] if incident.summary.strip() else ""
    return first if len(first) <= 120 else first[:119] + "…"


def clocks_of(work: Work, incident: Incident) -> list[IncidentClock]:
    return list(
        work.session.scalars(
            select(IncidentClock).where(IncidentClock.incident_id == incident.id).order_by(IncidentClock.due_at)
        )
    )


def clock_state(ctx: Context, clock: IncidentClock, now: datetime, *, live: bool = True) -> str:
    """Where a regulatory clock stands; ``live`` adds the time left (not for posts that stay up for days)."""
    if clock.notified_at is not None:
        return f"done {when(ctx, clock.notified_at)} by {person_name(ctx, clock.notified_by)}"
    if clock.stopped_at is not None:
        return "stopped (not an incident)"
    if clock.due_at <= now:
        return f"OVERDUE since {when(ctx, clock.due_at)}"
    left = f" (in {span(clock.due_at - now)})" if live else ""
    return f"due {when(ctx, clock.due_at)}{left}"


def running(clocks: list[IncidentClock]) -> list[IncidentClock]:
    return [c for c in clocks if c.notified_at is None and c.stopped_at is None]


def _buttons(ctx: Context, incident: Incident, clocks: list[IncidentClock]) -> tuple[Button, ...]:
    ref = incident.ref
    levels = ctx.org.incidents.severities
    severities = tuple(
        Button(f"incident_severity_{level}", f"{level} {levels.get(level).name}", ref)
        for level in ("P1", "P2", "P3", "P4")
    )
    notified = (Button("incident_notified", "Record notification", ref),) if running(clocks) else ()
    if incident.status == "new":
        return (
            Button("incident_classify", "Incident", ref, "primary"),
            Button("incident_not_incident", "Not an incident", ref),
            *severities,
            Button("incident_assign", "Assign handler", ref),
            Button("incident_escalate", "Escalate", ref),
            Button("incident_note", "Add note", ref),
        )
    if incident.status == "incident":
        return (
            *severities,
            Button("incident_assign", "Assign handler", ref),
            Button("incident_escalate", "Escalate", ref),
            Button("incident_note", "Add note", ref),
            Button("incident_change", "Request change", ref),
            *notified,
            Button("incident_not_incident", "Not an incident", ref),
            Button("incident_close", "Close", ref, "primary"),
        )
    if incident.status == "not_incident":
        return (Button("incident_classify", "Reclassify as incident", ref), Button("incident_note", "Add note", ref))
    return (*notified, Button("incident_note", "Add note", ref))


def triage_message(work: Work, incident: Incident) -> Message:
    """The triage post: everything the team needs to decide, and the buttons to act."""
    ctx = work.ctx
    settings = ctx.org.incidents
    clocks = clocks_of(work, incident)
    changes = work.session.scalars(
        select(IncidentChange).where(IncidentChange.incident_id == incident.id).order_by(IncidentChange.id)
    ).all()
    severity = "not set"
    if incident.severity:
        severity = f"{incident.severity} {settings.severities.get(incident.severity).name}"
    fields: list[tuple[str, str]] = [
        ("Status", STATUS_LABELS[incident.status]),
        ("Severity", severity),
        ("Handler", person_name(ctx, incident.handler_id)),
        ("Reported by", f"{incident.reporter_name}, {when(ctx, incident.reported_at)}"),
        ("Noticed", when(ctx, incident.noticed_at)),
        (
            "Category",
            settings.categories.get(incident.category, incident.category) if incident.category else "not given",
        ),
        ("Personal data affected", PERSONAL_DATA_LABELS.get(incident.personal_data or "", "not given")),
    ]
    if incident.affected:
        fields.append(("Affected system or asset", incident.affected))
    if incident.source_permalink:
        fields.append(("Reported message", incident.source_permalink))
    if incident.links:
        fields.append(("Links", incident.links))
    if incident.files:
        fields.append(("Files", f"{len(incident.files)} attached"))
    if incident.escalated_at:
        escalated = f"by {person_name(ctx, incident.escalated_by)}, {when(ctx, incident.escalated_at)}"
        fields.append(("Escalated", escalated))
    for clock in clocks:
        fields.append((CLOCK_LABELS[clock.kind], clock_state(ctx, clock, work.now, live=False)))
    if changes:
        fields.append(("Changes", "\n".join(f"{c.change_ref} {c.title} ({c.state or 'requested'})" for c in changes)))
    if incident.status == "not_incident" and incident.not_incident_reason:
        fields.append(("Why not an incident", incident.not_incident_reason))
    if incident.status == "closed":
        fields.append(("Root cause", incident.root_cause or ""))
        fields.append(("Lessons learned", incident.lessons or ""))
    criteria = "  ".join(
        f"{level} {settings.severities.get(level).name}: {settings.severities.get(level).criteria}"
        for level in ("P1", "P2", "P3", "P4")
    )
    return Message(
        text=f"{incident.ref} [{severity}] {STATUS_LABELS[incident.status]}: {headline(incident)}",
        body=incident.summary,
        fields=tuple(fields),
        buttons=_buttons(ctx, incident, clocks),
        footer=criteria if incident.status in ("new", "incident") else "",
    )


def post_triage(work: Work, incident: Incident) -> None:
    """The first post of a new report in the security team's channel."""
    work.notify(Recipient.channel(TRIAGE_CHANNEL), triage_message(work, incident), triage_key(incident))


def add_line(work: Work, incident: Incident, kind: str, text: str) -> None:
    """One timeline entry, posted as a line in the incident's triage thread."""
    entry = IncidentEntry(incident_id=incident.id, at=work.now, actor_id=work.actor.id, kind=kind, text=text)
    work.session.add(entry)
    work.session.flush()
    work.notify(
        Recipient.channel(TRIAGE_CHANNEL),
        Message(text=text),
        f"inc:{incident.ref}:entry:{entry.id}",
        thread_of=triage_key(incident),
    )


def refresh_post(work: Work, incident: Incident) -> None:
    """Replace the triage post with the incident as it is now (a new key per revision)."""
    incident.revision += 1
    incident.updated_at = work.now
    work.session.flush()
    work.notify(
        Recipient.channel(TRIAGE_CHANNEL),
        triage_message(work, incident),
        f"inc:{incident.ref}:triage:r{incident.revision}",
        replaces=triage_key(incident),
    )


def reporter_message(ctx: Context, incident: Incident, event: str, **values: str) -> Message:
    """Wording for the reporter, from the organisation's template: first line headline, rest body."""
    text = ctx.templates.text(
        "incident_status.j2", event=event, ref=incident.ref, status=STATUS_LABELS[incident.status], **values
    )
    lines = text.splitlines()
    return Message(text=lines[0], body="\n".join(lines[1:]).strip())


def tell_reporter(work: Work, incident: Incident, event: str, **values: str) -> None:
    """A status change for the reporter, by direct message. Never carries notes or the timeline."""
    work.notify(
        Recipient.parse(incident.reporter_to),
        reporter_message(work.ctx, incident, event, **values),
        f"inc:{incident.ref}:reporter:{incident.revision}:{event}",
    )


def tell_people(work: Work, person_ids: list[str], message: Message, key: str) -> None:
    """The same direct message to several people, each under its own idempotency key."""
    for person_id in dict.fromkeys(person_ids):
        work.notify(Recipient.person(person_id), message, f"{key}:{person_id}")


def with_role(ctx: Context, *roles: str) -> list[str]:
    """Person ids holding any of ``roles``, in the order of the organisation file."""
    return [p.id for p in ctx.org.people if any(role in p.roles for role in roles)]

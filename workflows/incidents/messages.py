"""What people see of an incident: the triage post, the reporter's status messages, and the notes to
the team and the DPO. Built from data only; ``timeline`` and the steps queue them.

The reporter's wording comes from the ``incident_status.j2`` template an organisation may override;
it is about status only, never the team's timeline or notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from config.incident_settings import SEVERITY_IDS
from storage.models.incident_rooms import IncidentRoom
from storage.models.incidents import Incident, IncidentChange, IncidentClock
from workflows.changes.messages import state_label
from workflows.incidents.clocks import CLOCK_LABELS, running
from workflows.incidents.forms import (
    ASSIGN,
    CHANGE,
    CLOSE,
    NOT_INCIDENT,
    NOTE,
    NOTIFIED,
    PERSONAL_DATA,
    PERSONAL_DATA_LABELS,
)
from workflows.incidents.lifecycle import OPEN, IncidentStatus, status_of
from workflows.kernel.people import person_name, span, when
from workflows.kernel.ui import Button, Message
from workflows.kernel.work import Context

CLASSIFY = "incident.classify"
ESCALATE = "incident.escalate"
ADD_DETAILS = "incident.add_details"
WITHDRAW = "incident.withdraw"
ACKNOWLEDGE = "incident.acknowledge"
OPEN_ROOM = "incident.open_room"
"""Action ids of the buttons that act at once (the others open the form of the same id)."""


def severity_action(level: str) -> str:
    """The action id of a severity button: ``incident.severity.P1``."""
    return f"incident.severity.{level}"


STATUS_LABELS = {
    IncidentStatus.NEW: "Reported, waiting for triage",
    IncidentStatus.INCIDENT: "Incident, being handled",
    IncidentStatus.NOT_INCIDENT: "Not an incident",
    IncidentStatus.CLOSED: "Closed",
    IncidentStatus.WITHDRAWN: "Withdrawn by the reporter",
}


def status_label(incident: Incident) -> str:
    return STATUS_LABELS[status_of(incident)]


def headline(incident: Incident) -> str:
    first = incident.summary.strip().splitlines()[0] if incident.summary.strip() else ""
    return first if len(first) <= 120 else first[:119] + "…"


def about(incident: Incident, text: str) -> Message:
    """A short direct message about an incident: what happened, over the incident's headline."""
    return Message(text=text, body=headline(incident))


def clock_state(ctx: Context, clock: IncidentClock, now: datetime, *, live: bool = True) -> str:
    """Where a regulatory clock stands; ``live`` adds the time left (not for posts that stay up for days)."""
    zone = ctx.org.zone
    if clock.notified_at is not None:
        by = person_name(ctx.org, clock.notified_by)
        if clock.decision == "not_notifiable":
            return f"assessed as not notifiable by {by}, {when(clock.notified_at, zone)}: {clock.notified_note or ''}"
        whom = " (the people affected)" if clock.decision == "people" else ""
        return f"done {when(clock.notified_at, zone)} by {by}{whom}"
    if clock.stopped_at is not None:
        return "stopped"
    if clock.due_at <= now:
        return f"OVERDUE since {when(clock.due_at, zone)}"
    left = f" (in {span(clock.due_at - now)})" if live else ""
    return f"due {when(clock.due_at, zone)}{left}"


def _buttons(
    ctx: Context, incident: Incident, clocks: Sequence[IncidentClock], *, may_open_room: bool = False
) -> tuple[Button, ...]:
    ref = incident.ref
    levels = ctx.org.incidents.severities
    severities = tuple(
        Button(severity_action(level), f"{level} {levels.get(level).name}", ref) for level in SEVERITY_IDS
    )
    notified = (Button(NOTIFIED, "Record notification", ref),) if running(clocks) else ()
    status = status_of(incident)
    if status == IncidentStatus.NEW:
        return (
            Button(CLASSIFY, "Incident", ref, "primary"),
            Button(NOT_INCIDENT, "Not an incident", ref),
            *severities,
            Button(ASSIGN, "Assign handler", ref),
            Button(ESCALATE, "Escalate", ref),
            Button(NOTE, "Add note", ref),
        )
    if status == IncidentStatus.INCIDENT:
        opener = (Button(OPEN_ROOM, "Open incident channel", ref),) if may_open_room else ()
        return (
            *severities,
            Button(ASSIGN, "Assign handler", ref),
            Button(ESCALATE, "Escalate", ref),
            Button(NOTE, "Add note", ref),
            Button(PERSONAL_DATA, "Personal data", ref),
            Button(CHANGE, "Request change", ref),
            *opener,
            *notified,
            Button(NOT_INCIDENT, "Not an incident", ref),
            Button(CLOSE, "Close", ref, "primary"),
        )
    if status == IncidentStatus.NOT_INCIDENT:
        return (Button(CLASSIFY, "Reclassify as incident", ref), Button(NOTE, "Add note", ref))
    if status == IncidentStatus.WITHDRAWN:
        return (Button(NOTE, "Add note", ref),)
    return (*notified, Button(NOTE, "Add note", ref))


def triage_message(
    ctx: Context,
    incident: Incident,
    clocks: Sequence[IncidentClock],
    changes: Sequence[IncidentChange],
    now: datetime,
    room: IncidentRoom | None = None,
) -> Message:
    """The triage post: everything the team needs to decide, and the buttons to act."""
    settings, zone = ctx.org.incidents, ctx.org.zone
    status = status_of(incident)
    severity = "not set"
    if incident.severity:
        severity = f"{incident.severity} {settings.severities.get(incident.severity).name}"
    fields: list[tuple[str, str]] = [
        ("Status", STATUS_LABELS[status]),
        ("Severity", severity),
        ("Handler", person_name(ctx.org, incident.handler_id)),
        ("Reported by", f"{incident.reporter_name}, {when(incident.reported_at, zone)}"),
        ("Noticed", when(incident.noticed_at, zone)),
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
    if room is not None:
        fields.append(("Incident channel", room_state(room)))
    if incident.escalated_at:
        escalated = f"by {person_name(ctx.org, incident.escalated_by)}, {when(incident.escalated_at, zone)}"
        fields.append(("Escalated", escalated))
    for clock in clocks:
        fields.append((CLOCK_LABELS[clock.kind], clock_state(ctx, clock, now, live=False)))
    if changes:
        fields.append(("Changes", "\n".join(f"{c.change_ref} {c.title} ({change_state(c.state)})" for c in changes)))
    if status == IncidentStatus.NOT_INCIDENT and incident.not_incident_reason:
        fields.append(("Why not an incident", incident.not_incident_reason))
    if status == IncidentStatus.CLOSED:
        fields.append(("Root cause", incident.root_cause or ""))
        fields.append(("Lessons learned", incident.lessons or ""))
    criteria = "  ".join(
        f"{level} {settings.severities.get(level).name}: {settings.severities.get(level).criteria}"
        for level in SEVERITY_IDS
    )
    return Message(
        text=f"{incident.ref} [{severity}] {STATUS_LABELS[status]}: {headline(incident)}",
        body=incident.summary,
        fields=tuple(fields),
        buttons=_buttons(ctx, incident, clocks, may_open_room=room is None),
        footer=criteria if status in OPEN else "",
    )


def room_state(room: IncidentRoom) -> str:
    """The incident channel as the triage post shows it: its name, and a link that opens it once Slack
    has created it (``app_redirect`` works in every workspace, and only members see a private channel)."""
    if room.error:
        return f"#{room.name} could not be opened: {room.error}"
    if room.channel_id is None:
        return f"#{room.name} (being opened)"
    link = f"https://slack.com/app_redirect?channel={room.channel_id}"
    return f"#{room.name} (archived) {link}" if room.archived_at else f"#{room.name} {link}"


def change_state(state: str | None) -> str:
    """A requested change's state as people read it ("Waiting for approval"), not its key."""
    return state_label(state) if state else "Requested"


def reporter_message(ctx: Context, incident: Incident, event: str, **values: str) -> Message:
    """Wording for the reporter, from the organisation's template: first line headline, rest body."""
    text = ctx.templates.text(
        "incident_status.j2", event=event, ref=incident.ref, status=status_label(incident), **values
    )
    lines = text.splitlines()
    return Message(text=lines[0], body="\n".join(lines[1:]).strip())


def reported_message(ctx: Context, incident: Incident, *, quick: bool) -> Message:
    """The reporter's receipt: the reference, what to do now for the category, and the buttons to add
    details (a one-line report) and to withdraw the report while nobody has triaged it."""
    message = reporter_message(ctx, incident, "reported")
    advice = ctx.org.incidents.advice_for(incident.category)
    buttons: tuple[Button, ...] = (Button(ADD_DETAILS, "Add details", incident.ref, "primary"),) if quick else ()
    if status_of(incident) == IncidentStatus.NEW:
        buttons += (Button(WITHDRAW, "Withdraw", incident.ref),)
    return Message(
        text=message.text,
        body=message.body,
        fields=(("What to do now", advice),) if advice else (),
        buttons=buttons,
    )


def emergency_message(ctx: Context, incident: Incident, started_by: str) -> Message:
    """P1: what everybody on the emergency communication plan is told at once, with the plan's link
    and a button to say they have seen it."""
    level = ctx.org.incidents.severities.get("P1")
    plan = ctx.org.incidents.emergency_plan_url
    return Message(
        text=f"P1 incident {incident.ref}: the emergency communication plan has started. {headline(incident)}",
        body=incident.summary,
        fields=(
            ("Severity", f"P1 {level.name}: {level.criteria}"),
            ("Handler", person_name(ctx.org, incident.handler_id)),
            ("Reported by", f"{incident.reporter_name}, {when(incident.reported_at, ctx.org.zone)}"),
            *((("Emergency plan", plan),) if plan else ()),
        ),
        buttons=(Button(ACKNOWLEDGE, "Acknowledge", incident.ref, "primary"),),
        footer=f"Set to P1 by {started_by}. Follow the emergency communication plan.",
    )


COMMAND_HELP = (
    ("/incident", "report an incident with a form"),
    ("/incident <what happened>", "report it in one line at once (you can add details later)"),
    ("/incident mine", "your reports and their status"),
    ("/incident list", "open incidents (security team, DPO, auditors); your own reports for everybody else"),
    ("/incident timeline INC-…", "an incident's timeline (security team, DPO, auditors)"),
    ("/incident report INC-…", "the post-incident report (security team, DPO, auditors)"),
    ("/incident help", "this help"),
)
"""What ``/incident help`` says; single words such as ``help`` or ``list`` never file a report."""


def command_help() -> Message:
    return Message(
        text="Reporting security incidents",
        body="\n".join(f"{command}: {what}" for command, what in COMMAND_HELP),
        footer="Messages: use “Report security incident” under ⋮ on any message.",
    )


def names(ctx: Context, person_ids: Sequence[str]) -> str:
    """People as a thread line lists them: "Alice Adams, Sam Shah"."""
    return ", ".join(person_name(ctx.org, p) for p in person_ids)


# -- what the clocks and timers say -----------------------------------------------------------------


def dpo_message(incident: Incident, text: str) -> Message:
    """A note to the DPO about a regulatory clock, with the button to record the notification."""
    return Message(text=text, body=headline(incident), buttons=(Button(NOTIFIED, "Record notification", incident.ref),))


def clock_started(ctx: Context, incident: Incident, clock: IncidentClock) -> str:
    return f"{CLOCK_LABELS[clock.kind]} clock started for {incident.ref}: due {when(clock.due_at, ctx.org.zone)}."


def overdue(ctx: Context, incident: Incident, timer_kind: str) -> str:
    """What the team missed: time to triage or to resolve, at the incident's severity."""
    settings = ctx.org.incidents
    level_id = incident.severity or settings.untriaged_severity
    level = settings.severities.get(level_id)
    if timer_kind == "triage":
        return f"{incident.ref} was not triaged within {span(level.triage_within)} ({level_id} target)"
    return f"{incident.ref} is not resolved within {span(level.resolve_within)} ({level_id} target)"


def escalation(ctx: Context, incident: Incident, what: str, clocks: Sequence[IncidentClock] = ()) -> Message:
    """A missed target, to the people it is escalated to, with the triage buttons to act at once."""
    return Message(
        text=f"Escalation: {what}.",
        body=headline(incident),
        fields=(("Handler", person_name(ctx.org, incident.handler_id)),),
        buttons=_buttons(ctx, incident, clocks),
    )


def dpo_reminder(ctx: Context, incident: Incident, clock: IncidentClock, now: datetime, *, passed: bool) -> str:
    label, due = CLOCK_LABELS[clock.kind], when(clock.due_at, ctx.org.zone)
    if passed:
        return f"Deadline passed: {label} for {incident.ref} was due {due} and no notification is recorded."
    return f"Reminder: {label} for {incident.ref} is due {due} (in {span(clock.due_at - now)})."

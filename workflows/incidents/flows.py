"""Process INC: report a security incident in seconds, triage and work it, close it and learn.

Reporting: ``quick_report`` (one line), ``report`` (the form, or a message shortcut) and
``add_details``. Each report gets a reference ``INC-<year>-<nnnn>`` from a per-year counter row
incremented in the reporting transaction, so references are unique and gap-free however many
reports arrive at once. A retried request (Slack retry, double submit) finds its earlier report.

Triage (security team, security lead, ISMS manager): classify as incident or not, severity,
handler, escalation, notes, requests for change, closure; the dpo records regulatory notifications.
Every step checks the role first, then in one transaction changes the incident, appends a record,
updates the triage post in place, adds a line to its thread, re-plans timers and clocks, and tells
the reporter when the status changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from config.organisation import ROLES
from storage.counters import next_number
from storage.db import is_postgresql
from storage.models.incidents import Incident, IncidentChange, IncidentClock
from workflows.changes import flows as changes
from workflows.incidents.clocks import plan
from workflows.incidents.forms import (
    CLOSE,
    MAX_REPORT,
    NOTIFIED,
    ReportDetails,
    Source,
    find_person,
    report_form,
    triage_form,
)
from workflows.incidents.messages import (
    CLOCK_LABELS,
    TRIAGE_ROLES,
    add_line,
    clocks_of,
    headline,
    person_name,
    post_triage,
    refresh_post,
    reporter_message,
    running,
    tell_people,
    tell_reporter,
    triage_message,
    when,
    with_role,
)
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.ui import Button, Message, Outcome
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context, Work

REPORTER_ROLES = frozenset(ROLES)
NOTIFIER_ROLES = TRIAGE_ROLES | {"dpo"}
OPEN = ("new", "incident")


def _load(work: Work, ref: str) -> Incident | None:
    query = select(Incident).where(Incident.ref == ref)
    if is_postgresql(work.session):
        query = query.with_for_update()
    return work.session.scalar(query)


def _find(ctx: Context, ref: str) -> Incident | None:
    with ctx.read() as session:
        return session.scalar(select(Incident).where(Incident.ref == ref.strip()))


# -- reporting ----------------------------------------------------------------------------------------


def start_report(ctx: Context, actor: Actor, source: Source | None = None, text: str = "") -> Outcome:
    """The report form, empty or prefilled with the message a shortcut was used on."""
    require(ctx, actor, REPORTER_ROLES, process="INC", what="reporting an incident")
    metadata = source.to_metadata() if source is not None else ""
    return Outcome(form=report_form(ctx, metadata=metadata, initial={"what": text[:MAX_REPORT]}))


def quick_report(ctx: Context, actor: Actor, *, key: str, text: str) -> Outcome:
    """``/incident <text>``: stored at once, with an "Add details" button."""
    require(ctx, actor, REPORTER_ROLES, process="INC", what="reporting an incident")
    problem = check_text({"what": text}, "what", MAX_REPORT, what="what happened")
    if problem:
        return Outcome.say(f"Nothing was reported: {problem['what']} Type /incident alone for the form.")
    return _report(ctx, actor, key, ReportDetails(summary=text.strip(), noticed_at=ctx.clock()), None, quick=True)


def report(ctx: Context, actor: Actor, *, key: str, details: ReportDetails, source: Source | None = None) -> Outcome:
    """A report from the form (possibly started from a message shortcut)."""
    require(ctx, actor, REPORTER_ROLES, process="INC", what="reporting an incident")
    return _report(ctx, actor, key, details, source, quick=False)


def _report(
    ctx: Context, actor: Actor, key: str, details: ReportDetails, source: Source | None, *, quick: bool
) -> Outcome:
    with ctx.work(actor) as work:
        if not work.once(key):
            earlier = work.session.scalar(select(Incident).where(Incident.request_key == key[:200]))
            if earlier is None:
                return Outcome.say("This report was already received.")
            return _reported(ctx, earlier, quick)
        incident = _create(work, key, details, source)
    return _reported(ctx, incident, quick)


def _reported(ctx: Context, incident: Incident, quick: bool) -> Outcome:
    message = reporter_message(ctx, incident, "reported")
    if quick:
        message = replace(message, buttons=(Button("incident_add_details", "Add details", incident.ref, "primary"),))
    return Outcome(reply=message)


def _create(work: Work, key: str, details: ReportDetails, source: Source | None) -> Incident:
    year = work.now.astimezone(work.ctx.org.zone).year
    number = next_number(work.session, f"INC-{year}")
    actor = work.actor
    incident = Incident(
        ref=f"INC-{year}-{number:04d}",
        year=year,
        number=number,
        request_key=key[:200],
        status="new",
        reported_at=work.now,
        reporter_id=actor.id,
        reporter_name=actor.name,
        reporter_to=str(actor.recipient),
        summary=details.summary,
        noticed_at=details.noticed_at,
        affected=details.affected,
        category=details.category,
        personal_data=details.personal_data,
        links=details.links,
        files=list(details.files),
        source_permalink=source.permalink if source else None,
        source_author=source.author if source else None,
        revision=0,
        updated_at=work.now,
    )
    work.session.add(incident)
    work.session.flush()
    work.record(
        "INC",
        "reported",
        ("incident", incident.ref),
        {
            **_details_data(incident),
            "reporter": actor.id,
            "source": {"permalink": incident.source_permalink, "author": incident.source_author} if source else None,
        },
        retain=work.ctx.org.incidents.records_kept_for,
    )
    post_triage(work, incident)
    plan(work, incident)
    return incident


def _details_data(incident: Incident) -> dict[str, object]:
    return {
        "summary": incident.summary,
        "noticed_at": incident.noticed_at.isoformat(),
        "affected": incident.affected,
        "category": incident.category,
        "personal_data": incident.personal_data,
        "links": incident.links,
        "files": list(incident.files),
    }


def _may_edit(ctx: Context, actor: Actor, incident: Incident | None, ref: str) -> None:
    """The reporter may add to their own report; anybody else needs a triage role."""
    if incident is None or incident.reporter_id != actor.id:
        require(
            ctx, actor, TRIAGE_ROLES, process="INC", what="changing somebody else's report", subject=("incident", ref)
        )


def details_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    """The report form again, prefilled with what the report holds so far."""
    incident = _find(ctx, ref)
    _may_edit(ctx, actor, incident, ref)
    if incident is None:
        return Outcome.say(f"There is no incident {ref}.")
    initial = {
        "what": incident.summary,
        "noticed": str(int(incident.noticed_at.timestamp())),
        "affected": incident.affected,
        "category": incident.category or "",
        "personal_data": incident.personal_data or "",
        "links": incident.links,
    }
    return Outcome(form=report_form(ctx, metadata=json.dumps({"ref": incident.ref}), initial=initial))


def add_details(ctx: Context, actor: Actor, *, key: str, ref: str, details: ReportDetails) -> Outcome:
    _may_edit(ctx, actor, _find(ctx, ref), ref)
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say(f"The details for {ref} are saved.")
        incident = _load(work, ref)
        if incident is None:
            return Outcome.say(f"There is no incident {ref}.")
        if incident.status not in OPEN:
            return Outcome.say(
                f"{ref} is already {incident.status.replace('_', ' ')}; please write to the security team instead."
            )
        incident.summary, incident.noticed_at, incident.affected = details.summary, details.noticed_at, details.affected
        incident.category, incident.personal_data = details.category, details.personal_data
        incident.links, incident.files = details.links, [*incident.files, *details.files]
        work.record(
            "INC",
            "details-added",
            ("incident", ref),
            _details_data(incident),
            retain=work.ctx.org.incidents.records_kept_for,
        )
        _changed(work, incident, "details", f"{actor.name} updated the report's details.")
    return Outcome.say(f"Thank you, the details are added to {ref}.")


# -- triage -------------------------------------------------------------------------------------------

Step = Callable[[Work, Incident], Outcome]


def _act(
    ctx: Context, actor: Actor, *, key: str, ref: str, what: str, step: Step, roles: frozenset[str] = TRIAGE_ROLES
) -> Outcome:
    """Role check first (a refusal is recorded), then the step in one transaction, once per request."""
    require(ctx, actor, roles, process="INC", what=what, subject=("incident", ref))
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome()
        incident = _load(work, ref)
        if incident is None:
            return Outcome.say(f"There is no incident {ref}.")
        return step(work, incident)


def _changed(work: Work, incident: Incident, kind: str, line: str) -> None:
    """After a change: a thread line, timers and clocks re-planned, the triage post updated in place."""
    add_line(work, incident, kind, line)
    plan(work, incident)
    refresh_post(work, incident)


def _not_open(incident: Incident) -> Outcome:
    return Outcome.say(f"{incident.ref} is {incident.status.replace('_', ' ')}; this is no longer possible.")


def classify(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        if incident.status == "incident":
            return Outcome.say(
                f"{ref} was already classified as an incident by {person_name(ctx, incident.classified_by)}."
            )
        if incident.status == "closed":
            return _not_open(incident)
        reopened = incident.status == "not_incident"
        incident.status, incident.classified_at, incident.classified_by = "incident", work.now, actor.id
        incident.not_incident_reason = None
        work.record("INC", "classified", ("incident", ref), {"severity": incident.severity, "reopened": reopened})
        _changed(work, incident, "classified", f"{actor.name} classified this as an incident.")
        tell_reporter(work, incident, "reopened" if reopened else "incident")
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="classifying incidents", step=step)


def not_incident(ctx: Context, actor: Actor, *, key: str, ref: str, reason: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        if incident.status not in OPEN:
            return _not_open(incident)
        incident.status, incident.not_incident_reason = "not_incident", reason.strip()
        incident.classified_at, incident.classified_by = work.now, actor.id
        work.record("INC", "not-an-incident", ("incident", ref), {"reason": incident.not_incident_reason})
        _changed(work, incident, "not_incident", f"{actor.name} decided this is not an incident: {reason.strip()}")
        tell_reporter(work, incident, "not_incident", reason=reason.strip())
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="classifying incidents", step=step)


def set_severity(ctx: Context, actor: Actor, *, key: str, ref: str, severity: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        if incident.status not in OPEN:
            return _not_open(incident)
        if incident.severity == severity:
            return Outcome.say(f"{ref} already has severity {severity}.")
        level = ctx.org.incidents.severities.get(severity)
        work.record("INC", "severity-set", ("incident", ref), {"from": incident.severity, "to": severity})
        incident.severity = severity
        _changed(work, incident, "severity", f"{actor.name} set severity {severity} ({level.name}).")
        if severity == "P1" and incident.emergency_at is None:
            _emergency_plan(work, incident)
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="setting the severity of incidents", step=step)


def _emergency_plan(work: Work, incident: Incident) -> None:
    """P1: everybody on the emergency communication plan hears of it at once."""
    ctx = work.ctx
    contacts = list(ctx.org.incidents.emergency_contacts) or with_role(ctx, "security_lead", "isms_manager")
    level = ctx.org.incidents.severities.get("P1")
    incident.emergency_at = work.now
    message = Message(
        text=f"P1 incident {incident.ref}: the emergency communication plan has started. {headline(incident)}",
        body=incident.summary,
        fields=(
            ("Severity", f"P1 {level.name}: {level.criteria}"),
            ("Handler", person_name(ctx, incident.handler_id)),
            ("Reported by", f"{incident.reporter_name}, {when(ctx, incident.reported_at)}"),
        ),
        footer=f"Set to P1 by {work.actor.name}. Follow the emergency communication plan.",
    )
    tell_people(work, contacts, message, f"inc:{incident.ref}:emergency")
    work.record("INC", "emergency-plan-started", ("incident", incident.ref), {"told": contacts})
    add_line(
        work,
        incident,
        "emergency",
        "Emergency communication plan started: told " + ", ".join(person_name(ctx, p) for p in contacts) + ".",
    )


def assign(ctx: Context, actor: Actor, *, key: str, ref: str, handler: str) -> Outcome:
    """``handler``: a Slack user id, an e-mail or a person id."""

    def step(work: Work, incident: Incident) -> Outcome:
        person = find_person(ctx, handler)
        if person is None or not TRIAGE_ROLES.intersection(person.roles):
            return Outcome.say("Please choose a member of the security team as handler.")
        if incident.status not in OPEN:
            return _not_open(incident)
        if incident.handler_id == person.id:
            return Outcome.say(f"{person.name} already handles {ref}.")
        work.record("INC", "handler-assigned", ("incident", ref), {"from": incident.handler_id, "to": person.id})
        incident.handler_id = person.id
        _changed(work, incident, "assigned", f"{actor.name} made {person.name} the handler.")
        brief = triage_message(work, incident)
        tell_people(
            work,
            [person.id],
            replace(brief, text=f"You now handle {brief.text}", footer=f"Assigned by {actor.name}."),
            f"inc:{ref}:handler:{incident.revision}",
        )
        tell_reporter(work, incident, "handler", handler=person.name)
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="assigning incident handlers", step=step)


def escalate(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        if incident.status not in OPEN:
            return _not_open(incident)
        if incident.escalated_at is not None:
            return Outcome.say(
                f"{ref} was already escalated by {person_name(ctx, incident.escalated_by)} "
                f"on {when(ctx, incident.escalated_at)}."
            )
        people = [p for p in with_role(ctx, "security_lead", "isms_manager") if p != actor.id]
        incident.escalated_at, incident.escalated_by = work.now, actor.id
        work.record("INC", "escalated", ("incident", ref), {"to": people})
        names = ", ".join(person_name(ctx, p) for p in people) or "nobody else (you hold those roles)"
        _changed(work, incident, "escalated", f"{actor.name} escalated this to {names}.")
        brief = triage_message(work, incident)
        tell_people(
            work, people, replace(brief, text=f"{actor.name} escalated to you: {brief.text}"), f"inc:{ref}:escalated"
        )
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="escalating incidents", step=step)


def add_note(ctx: Context, actor: Actor, *, key: str, ref: str, note: str) -> Outcome:
    """A note for the team's timeline; the reporter never sees it."""

    def step(work: Work, incident: Incident) -> Outcome:
        work.record(
            "INC", "note-added", ("incident", ref), {"note": note.strip()}, retain=ctx.org.incidents.records_kept_for
        )
        add_line(work, incident, "note", f"Note by {actor.name}: {note.strip()}")
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="adding notes to incidents", step=step)


def close(ctx: Context, actor: Actor, *, key: str, ref: str, root_cause: str, lessons: str) -> Outcome:
    """Close an incident; its lessons go to awareness (AWR) as input for training."""

    def step(work: Work, incident: Incident) -> Outcome:
        if incident.status != "incident":
            return Outcome.say(f"Only an incident can be closed; {ref} is {incident.status.replace('_', ' ')}.")
        incident.status, incident.closed_at, incident.closed_by = "closed", work.now, actor.id
        incident.root_cause, incident.lessons = root_cause.strip(), lessons.strip()
        work.record(
            "INC",
            "closed",
            ("incident", ref),
            {
                "root_cause": incident.root_cause,
                "lessons": incident.lessons,
                "severity": incident.severity,
                "category": incident.category,
                "handler": incident.handler_id,
            },
        )
        lesson = {"lessons": incident.lessons, "category": incident.category, "severity": incident.severity}
        work.record("AWR", "lesson", ("incident", ref), lesson)
        _changed(work, incident, "closed", f"{actor.name} closed the incident. Root cause: {incident.root_cause}")
        tell_reporter(work, incident, "closed")
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="closing incidents", step=step)


def record_notification(
    ctx: Context, actor: Actor, *, key: str, ref: str, clock: str, at: datetime, note: str = ""
) -> Outcome:
    """The dpo (or the team) notified an authority: who and when is recorded, reminders stop."""

    def step(work: Work, incident: Incident) -> Outcome:
        target = next((c for c in running(clocks_of(work, incident)) if c.kind == clock), None)
        if target is None:
            return Outcome.say(f"No {CLOCK_LABELS.get(clock, clock)} clock is running for {ref}.")
        target.notified_at, target.notified_by, target.notified_note = at, actor.id, note.strip() or None
        work.record(
            "INC",
            "notified",
            ("incident", ref),
            {"clock": clock, "at": at.isoformat(), "by": actor.id, "note": note.strip()},
        )
        late = " (after the deadline)" if at > target.due_at else ""
        _changed(
            work,
            incident,
            "notified",
            f"{actor.name} recorded the {CLOCK_LABELS[clock]} as made on {when(ctx, at)}{late}.",
        )
        return Outcome.say(f"Recorded: {CLOCK_LABELS[clock]} for {ref}, {when(ctx, at)}.")

    return _act(
        ctx, actor, key=key, ref=ref, what="recording regulatory notifications", step=step, roles=NOTIFIER_ROLES
    )


def request_change(
    ctx: Context, actor: Actor, *, key: str, ref: str, title: str, description: str, reason: str
) -> Outcome:
    """A request for change from the incident, recorded by process CHG; its result comes back here."""

    def step(work: Work, incident: Incident) -> Outcome:
        try:
            change_ref = changes.request_change(
                work, title=title, description=description, reason=reason, origin=("INC", ref)
            )
        except changes.ChangeInputError as problem:
            return Outcome.say(f"The change was not requested: {problem}")
        work.session.add(
            IncidentChange(
                incident_id=incident.id,
                change_ref=change_ref,
                title=title.strip()[:200],
                requested_at=work.now,
                requested_by=actor.id,
            )
        )
        work.record("INC", "change-requested", ("incident", ref), {"change": change_ref, "title": title.strip()})
        _changed(work, incident, "change", f"{actor.name} requested change {change_ref}: {title.strip()}")
        return Outcome()

    return _act(ctx, actor, key=key, ref=ref, what="requesting changes from incidents", step=step)


def open_form(ctx: Context, actor: Actor, callback_id: str, ref: str) -> Outcome:
    """The form behind a triage button, if the incident's state allows that step."""
    roles = NOTIFIER_ROLES if callback_id == NOTIFIED else TRIAGE_ROLES
    require(ctx, actor, roles, process="INC", what="working on incidents", subject=("incident", ref))
    with ctx.read() as session:
        incident = session.scalar(select(Incident).where(Incident.ref == ref))
        kinds = tuple(
            c.kind
            for c in session.scalars(
                select(IncidentClock)
                .where(
                    IncidentClock.incident_id == (incident.id if incident else -1),
                    IncidentClock.notified_at.is_(None),
                    IncidentClock.stopped_at.is_(None),
                )
                .order_by(IncidentClock.due_at)
            )
        )
    if incident is None:
        return Outcome.say(f"There is no incident {ref}.")
    if callback_id == CLOSE and incident.status != "incident":
        return Outcome.say(f"Only an incident can be closed; {ref} is {incident.status.replace('_', ' ')}.")
    if callback_id == NOTIFIED and not kinds:
        return Outcome.say(f"No regulatory clock is running for {ref}.")
    return Outcome(form=triage_form(ctx, callback_id, ref, clocks=kinds))


# -- interfaces and scheduled work --------------------------------------------------------------------


def change_status(work: Work, event: Interface) -> None:
    """CHG moved a change this incident asked for (approved, in implementation...): shown on the post."""
    link = work.session.scalar(select(IncidentChange).where(IncidentChange.change_ref == event.data.get("change")))
    state = event.data.get("state")
    if link is None or link.state == state:
        return
    link.state = state
    incident = _load(work, event.subject_ref)
    if incident is not None:
        refresh_post(work, incident)


def change_finished(work: Work, event: Interface) -> None:
    """CHG reports a change this incident asked for as done, failed or declined."""
    incident = _load(work, event.subject_ref)
    if incident is None:
        return
    ref = event.data.get("change", "")
    link = work.session.scalar(select(IncidentChange).where(IncidentChange.change_ref == ref))
    if link is not None:
        link.state, link.result, link.finished_at = event.data.get("state"), event.data.get("result"), work.now
    state = str(event.data.get("state") or "finished")
    result = str(event.data.get("result") or "").strip()
    jira = f" ({event.data['jira_key']})" if event.data.get("jira_key") else ""
    line = f"Change {ref}{jira} is {state}." + (f" Result: {result}" if result else "")
    work.record("INC", "change-finished", ("incident", incident.ref), {"change": ref, "state": state})
    _changed(work, incident, "change", line)
    if incident.handler_id:
        tell_people(
            work,
            [incident.handler_id],
            Message(text=f"{incident.ref}: {line}", body=headline(incident)),
            f"inc:{incident.ref}:change:{ref}:{state}",
        )

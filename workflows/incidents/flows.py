"""Process INC: report a security incident in seconds, triage and work it, close it and learn.

Reporting: ``quick_report`` (one line), ``report`` (the form, or a message shortcut) and
``add_details``. Each report gets a reference ``INC-<year>-<nnnn>`` from a per-year counter row
incremented in the reporting transaction, as late as possible (the counter row stays locked until
commit), so references are unique and gap-free however many reports arrive at once. A retried
request (Slack retry, double submit) finds its earlier report by the incident's unique request key.

Triage (security team, security lead, ISMS manager): classify as incident or not, severity,
handler, escalation, notes, requests for change, closure; the DPO records regulatory notifications.
Every step runs through ``run_step`` (role, unit of work, first-time key, row lock, the state check
against ``lifecycle.LIFECYCLE``) and then, in the same transaction, changes the incident, appends a
record, adds a line to its thread, applies the clocks' plan, updates the triage post in place and
tells the reporter when the status changed. A step that moves the incident sets the new status
itself before all that, because the line, the post, the clocks and the reporter's message describe
the incident after the move; ``run_step`` has checked the move before the step ran.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from storage.counters import number_row
from storage.db import is_postgresql
from storage.models.incident_rooms import IncidentRoom
from storage.models.incidents import Incident, IncidentChange, IncidentClock, IncidentTimer
from workflows.changes import flows as changes
from workflows.incidents import messages, postmortem, rooms, timeline
from workflows.incidents.clocks import CLOCK_LABELS, FINAL_REPORT, plan_clocks, running, wanted_timers
from workflows.incidents.forms import (
    CLOSE,
    DECISIONS,
    MAX_REPORT,
    MAX_TIMELINE_TEXT,
    NOTIFIED,
    PERSONAL_DATA,
    PERSONAL_DATA_LABELS,
    ReportDetails,
    Source,
    report_form,
    timeline_form,
    triage_form,
)
from workflows.incidents.lifecycle import (
    ESCALATION_ROLES,
    INCIDENTS,
    LIFECYCLE,
    NOTIFIER_ROLES,
    OPEN,
    TRIAGE_ROLES,
    VIEWER_ROLES,
    IncidentStatus,
    status_of,
)
from workflows.incidents.service import change_link, clocks_of, dpo, running_clock_kinds
from workflows.kernel.access import EVERYONE, Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.people import find_person, person_name, when, with_role
from workflows.kernel.routing import SourceMessage
from workflows.kernel.steps import Items, run_step
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context, Work

TRIAGE = Allowed(TRIAGE_ROLES)
TRIAGE_KEY = re.compile(r"inc:(INC-\d{4}-\d{4,}):triage")
"""The outbox key of an incident's triage post (``timeline.triage_key``)."""
VIEWERS = Allowed(VIEWER_ROLES)
CARRIED_TEXT = 1400
"""Characters of a message the "which incident?" form carries: its metadata holds at most 3,000 in Slack,
JSON escapes (quotes, line breaks) may double the text, and the message's author and link come along."""
NOTIFIERS = Allowed(NOTIFIER_ROLES)
EDITING = "changing this report"


def _editors(incident: Incident) -> Allowed:
    """The reporter may add to their own report; anybody else needs a triage role."""
    return Allowed(TRIAGE_ROLES, owner=incident.reporter_id)


def _only_an_incident_closes(session: Session, incident: Incident) -> str:
    return f"Only an incident can be closed; {incident.ref} is {status_of(incident).spoken}."


def _too_late_for_details(session: Session, incident: Incident) -> str:
    return f"{incident.ref} is already {status_of(incident).spoken}; please write to the security team instead."


CLOSABLE = replace(INCIDENTS, not_now=_only_an_incident_closes)
DETAILED = replace(INCIDENTS, not_now=_too_late_for_details)


# -- reporting ----------------------------------------------------------------------------------------


def start_report(ctx: Context, actor: Actor, source: Source | None = None, text: str = "") -> Outcome:
    """The report form, empty or prefilled with the message a shortcut was used on."""
    require(ctx, actor, EVERYONE, process="INC", what="reporting an incident")
    metadata = source.to_metadata() if source is not None else ""
    return Outcome(form=report_form(ctx, metadata=metadata, initial={"what": text[:MAX_REPORT]}))


def quick_report(ctx: Context, actor: Actor, *, key: str, text: str) -> Outcome:
    """``/incident <text>``: stored at once, with an "Add details" button."""
    require(ctx, actor, EVERYONE, process="INC", what="reporting an incident")
    problem = check_text({"what": text}, "what", MAX_REPORT, what="what happened")
    if problem:
        return Outcome.say(f"Nothing was reported: {problem['what']} Type /incident alone for the form.")
    return _report(ctx, actor, key, ReportDetails(summary=text.strip(), noticed_at=ctx.clock()), None, quick=True)


def report(ctx: Context, actor: Actor, *, key: str, details: ReportDetails, source: Source | None = None) -> Outcome:
    """A report from the form (possibly started from a message shortcut)."""
    require(ctx, actor, EVERYONE, process="INC", what="reporting an incident")
    return _report(ctx, actor, key, details, source, quick=False)


def _report(
    ctx: Context, actor: Actor, key: str, details: ReportDetails, source: Source | None, *, quick: bool
) -> Outcome:
    with ctx.work(actor) as work:
        incident = _create(work, key, details, source)
        if incident is None:
            earlier = work.session.scalar(select(Incident).where(Incident.request_key == key[:200]))
            if earlier is None:
                raise Refused("This report was already received.")
            return _reported(ctx, earlier, quick)
    return _reported(ctx, incident, quick)


def _reported(ctx: Context, incident: Incident, quick: bool) -> Outcome:
    return Outcome(reply=messages.reported_message(ctx, incident, quick=quick))


def _create(work: Work, key: str, details: ReportDetails, source: Source | None) -> Incident | None:
    """Store a new report, or return None when its request key is already stored (a retry).

    The reference is taken last: the row is inserted under a provisional reference, unique per
    transaction and never committed, its clocks and timers are written, and only then the year's
    counter is incremented (from there its row lock is held until commit) and the reference set,
    followed by what names it (the records, the triage post), which ``ctx.work`` writes in one insert
    each just before commit. The duplicate check is the insert itself: ``ON CONFLICT (request_key) DO
    NOTHING`` waits for a racing transaction with the same key and then inserts nothing.
    """
    year = work.now.astimezone(work.ctx.org.zone).year
    actor = work.actor
    provisional = secrets.randbelow(2**31 - 1) + 1
    row = {
        "ref": f"INC-new-{provisional}",
        "year": year,
        "number": -provisional,
        "request_key": key[:200],
        "status": IncidentStatus.NEW,
        "reported_at": work.now,
        "reporter_id": actor.id,
        "reporter_name": actor.name,
        "reporter_to": str(actor.recipient),
        "summary": details.summary,
        "noticed_at": details.noticed_at,
        "affected": details.affected,
        "category": details.category,
        "personal_data": details.personal_data,
        "links": details.links,
        "files": list(details.files),
        "source_permalink": source.permalink if source else None,
        "source_author": source.author if source else None,
        "revision": 0,
        "updated_at": work.now,
    }
    insert = postgresql.insert if is_postgresql(work.session) else sqlite.insert
    statement = insert(Incident).on_conflict_do_nothing(index_elements=[Incident.request_key]).returning(Incident)
    incident = work.session.scalars(statement, [row]).one_or_none()
    if incident is None:
        return None
    for name, value in row.items():  # the values as given (zones included), as a flush would leave them
        set_committed_value(incident, name, value)
    started = _plan_new(work, incident)
    number = number_row(work.session, f"INC-{year}", Incident, incident.id, f"INC-{year}-")
    set_committed_value(incident, "number", number)
    set_committed_value(incident, "ref", f"INC-{year}-{number:04d}")
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
    timeline.post_triage(work, incident)
    for clock in started:
        _announce(work, incident, clock)
    return incident


def _plan_new(work: Work, incident: Incident) -> list[IncidentClock]:
    """``_replan`` for a report just inserted, which has no clocks or timers yet: they are written
    without reading any, before the report has its reference. Returns the clocks started, to announce
    once it has one."""
    settings = work.ctx.org.incidents
    plan = plan_clocks(settings, incident, {}, work.now)
    clocks = [
        IncidentClock(
            incident_id=incident.id, kind=kind, started_at=plan.since.get(kind, work.now), stopped_at=None, due_at=due
        )
        for kind, due in plan.start.items()
    ]
    work.session.add_all(clocks)
    timers = wanted_timers(settings, incident, clocks)
    work.session.add_all(IncidentTimer(incident_id=incident.id, kind=kind, due_at=due) for kind, due in timers.items())
    work.session.flush()
    return clocks


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


def details_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    """The report form again, prefilled with what the report holds so far."""
    incident = INCIDENTS.find(ctx, ref)
    if incident is None:
        raise Refused(INCIDENTS.missing(ref))
    require(ctx, actor, _editors(incident), process="INC", what=EDITING, subject=("incident", ref))
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
    def step(work: Work, incident: Incident) -> Outcome:
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

    return run_step(
        ctx,
        actor,
        DETAILED,
        ref,
        key=key,
        what=EDITING,
        allowed=_editors,
        step=step,
        within=OPEN,
        again=Outcome.say(f"The details for {ref} are saved."),
    )


def _not_withdrawable(session: Session, incident: Incident) -> str:
    return (
        f"{incident.ref} can no longer be withdrawn: it is {messages.status_label(incident).lower()}. "
        "Please write to the security team instead."
    )


WITHDRAWABLE = replace(INCIDENTS, not_now=_not_withdrawable)


def withdraw(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    """The reporter takes back a report nobody has triaged yet: recorded, the triage post updated."""

    def step(work: Work, incident: Incident) -> Outcome:
        incident.status = IncidentStatus.WITHDRAWN
        work.record("INC", "withdrawn", ("incident", ref), {"by": actor.id})
        _changed(work, incident, "withdrawn", f"{actor.name} withdrew the report.")
        return Outcome.say(f"You withdrew {ref}. The security team can see that you did.")

    return run_step(
        ctx,
        actor,
        WITHDRAWABLE,
        ref,
        key=key,
        what="withdrawing this report",
        allowed=lambda incident: Allowed(frozenset(), owner=incident.reporter_id),
        step=step,
        to=IncidentStatus.WITHDRAWN,
        again=Outcome.say(f"{ref} is withdrawn."),
    )


# -- triage -------------------------------------------------------------------------------------------


def _triage(
    ctx: Context,
    actor: Actor,
    ref: str,
    *,
    key: str,
    what: str,
    step: Callable[[Work, Incident], Outcome],
    items: Items[Incident] = INCIDENTS,
    allowed: Allowed = TRIAGE,
    to: IncidentStatus | None = None,
    within: Collection[str] | None = None,
) -> Outcome:
    """A step on an incident, by the security team unless said otherwise, through the one step runner."""
    return run_step(ctx, actor, items, ref, key=key, what=what, allowed=allowed, step=step, to=to, within=within)


def _changed(work: Work, incident: Incident, kind: str, line: str) -> None:
    """After a change: a thread line, timers and clocks re-planned, the incident's channel opened or
    followed (``rooms.follow``), the triage post and the channel's summary updated in place."""
    timeline.add_line(work, incident, kind, line)
    _replan(work, incident)
    rooms.follow(work, incident)
    timeline.refresh_post(work, incident)


def classify(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    def already(session: Session, incident: Incident) -> str:
        if status_of(incident) == IncidentStatus.INCIDENT:
            by = person_name(ctx.org, incident.classified_by)
            return f"{incident.ref} was already classified as an incident by {by}."
        return INCIDENTS.not_now(session, incident)

    def step(work: Work, incident: Incident) -> Outcome:
        reopened = status_of(incident) == IncidentStatus.NOT_INCIDENT
        incident.status, incident.classified_at, incident.classified_by = IncidentStatus.INCIDENT, work.now, actor.id
        incident.not_incident_reason = None
        work.record("INC", "classified", ("incident", ref), {"severity": incident.severity, "reopened": reopened})
        _changed(work, incident, "classified", f"{actor.name} classified this as an incident.")
        timeline.tell_reporter(work, incident, "reopened" if reopened else "incident")
        return Outcome()

    return _triage(
        ctx,
        actor,
        ref,
        key=key,
        what="classifying incidents",
        step=step,
        to=IncidentStatus.INCIDENT,
        items=replace(INCIDENTS, not_now=already),
    )


def not_incident(ctx: Context, actor: Actor, *, key: str, ref: str, reason: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        incident.status, incident.not_incident_reason = IncidentStatus.NOT_INCIDENT, reason.strip()
        incident.classified_at, incident.classified_by = work.now, actor.id
        work.record("INC", "not-an-incident", ("incident", ref), {"reason": incident.not_incident_reason})
        _changed(work, incident, "not_incident", f"{actor.name} decided this is not an incident: {reason.strip()}")
        timeline.tell_reporter(work, incident, "not_incident", reason=reason.strip())
        return Outcome()

    return _triage(ctx, actor, ref, key=key, what="classifying incidents", step=step, to=IncidentStatus.NOT_INCIDENT)


def set_severity(ctx: Context, actor: Actor, *, key: str, ref: str, severity: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        if incident.severity == severity:
            raise Refused(f"{ref} already has severity {severity}.")
        level = ctx.org.incidents.severities.get(severity)
        work.record("INC", "severity-set", ("incident", ref), {"from": incident.severity, "to": severity})
        incident.severity = severity
        if status_of(incident) == IncidentStatus.NEW:  # a severity says it is an incident: classified too
            incident.status, incident.classified_at, incident.classified_by = (
                IncidentStatus.INCIDENT,
                work.now,
                actor.id,
            )
            work.record("INC", "classified", ("incident", ref), {"severity": severity, "reopened": False})
            timeline.add_line(work, incident, "classified", f"{actor.name} classified this as an incident.")
            timeline.tell_reporter(work, incident, "incident")
        _changed(work, incident, "severity", f"{actor.name} set severity {severity} ({level.name}).")
        if severity == "P1" and incident.emergency_at is None:
            _emergency_plan(work, incident)
        return Outcome()

    return _triage(ctx, actor, ref, key=key, what="setting the severity of incidents", step=step, within=OPEN)


def _emergency_plan(work: Work, incident: Incident) -> None:
    """P1: everybody on the emergency communication plan hears of it at once."""
    ctx = work.ctx
    contacts = list(ctx.org.incidents.emergency_contacts) or with_role(ctx.org, *ESCALATION_ROLES)
    incident.emergency_at = work.now
    message = messages.emergency_message(ctx, incident, work.actor.name)
    timeline.tell_people(work, contacts, message, f"inc:{incident.ref}:emergency")
    work.record("INC", "emergency-plan-started", ("incident", incident.ref), {"told": contacts})
    told = messages.names(ctx, contacts)
    timeline.add_line(work, incident, "emergency", f"Emergency communication plan started: told {told}.")


def acknowledge(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    """Somebody on the emergency plan (or in the security team) says they have seen the P1 alert."""
    contacts = set(ctx.org.incidents.emergency_contacts) or set(with_role(ctx.org, *ESCALATION_ROLES))

    def step(work: Work, incident: Incident) -> Outcome:
        if incident.emergency_at is None:
            raise Refused(f"{ref} has no emergency alert to acknowledge.")
        if timeline.has_entry(work, incident, "acknowledged", actor.id):
            raise Refused(f"You already acknowledged the P1 alert for {ref}.")
        work.record("INC", "emergency-acknowledged", ("incident", ref), {"by": actor.id})
        timeline.add_line(work, incident, "acknowledged", f"{actor.name} acknowledged the P1 alert.")
        return Outcome.say(f"Thank you: your acknowledgement of the P1 alert for {ref} is recorded.")

    return _triage(
        ctx,
        actor,
        ref,
        key=key,
        what="acknowledging emergency alerts",
        step=step,
        allowed=Allowed(TRIAGE_ROLES, owner=actor.id if actor.id in contacts else None),
    )


def assign(ctx: Context, actor: Actor, *, key: str, ref: str, handler: str) -> Outcome:
    """``handler``: a Slack user id, an e-mail or a person id."""

    def step(work: Work, incident: Incident) -> Outcome:
        person = find_person(ctx.org, handler)
        if person is None or not TRIAGE_ROLES.intersection(person.roles):
            raise Refused("Please choose a member of the security team as handler.")
        if incident.handler_id == person.id:
            raise Refused(f"{person.name} already handles {ref}.")
        work.record("INC", "handler-assigned", ("incident", ref), {"from": incident.handler_id, "to": person.id})
        incident.handler_id = person.id
        _changed(work, incident, "assigned", f"{actor.name} made {person.name} the handler.")
        brief = timeline.triage_message(work, incident)
        timeline.tell_people(
            work,
            [person.id],
            replace(brief, text=f"You now handle {brief.text}", footer=f"Assigned by {actor.name}."),
            f"inc:{ref}:handler:{incident.revision}",
        )
        timeline.tell_reporter(work, incident, "handler", handler=person.name)
        return Outcome()

    return _triage(ctx, actor, ref, key=key, what="assigning incident handlers", step=step, within=OPEN)


def escalate(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    def step(work: Work, incident: Incident) -> Outcome:
        if incident.escalated_at is not None:
            raise Refused(
                f"{ref} was already escalated by {person_name(ctx.org, incident.escalated_by)} "
                f"on {when(incident.escalated_at, ctx.org.zone)}."
            )
        people = [p for p in with_role(ctx.org, *ESCALATION_ROLES) if p != actor.id]
        incident.escalated_at, incident.escalated_by = work.now, actor.id
        work.record("INC", "escalated", ("incident", ref), {"to": people})
        names = messages.names(ctx, people) or "nobody else (you hold those roles)"
        _changed(work, incident, "escalated", f"{actor.name} escalated this to {names}.")
        brief = timeline.triage_message(work, incident)
        timeline.tell_people(
            work, people, replace(brief, text=f"{actor.name} escalated to you: {brief.text}"), f"inc:{ref}:escalated"
        )
        return Outcome()

    return _triage(ctx, actor, ref, key=key, what="escalating incidents", step=step, within=OPEN)


def add_note(ctx: Context, actor: Actor, *, key: str, ref: str, note: str) -> Outcome:
    """A note for the team's timeline, in any state; the reporter never sees it."""

    def step(work: Work, incident: Incident) -> Outcome:
        work.record(
            "INC", "note-added", ("incident", ref), {"note": note.strip()}, retain=ctx.org.incidents.records_kept_for
        )
        timeline.add_line(work, incident, "note", f"Note by {actor.name}: {note.strip()}")
        return Outcome()

    return _triage(ctx, actor, ref, key=key, what="adding notes to incidents", step=step)


def open_room(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    """The "Open incident channel" button: a room for an incident whose severity does not open one."""

    def step(work: Work, incident: Incident) -> Outcome:
        if rooms.open_room(work, incident, f"asked by {actor.name}") is None:
            raise Refused(f"{ref} already has its incident channel.")
        timeline.refresh_post(work, incident)
        return Outcome.say(f"The incident channel for {ref} is being opened; you will be invited.")

    return _triage(
        ctx,
        actor,
        ref,
        key=key,
        what="opening incident channels",
        step=step,
        within=frozenset({IncidentStatus.INCIDENT}),
    )


def incident_of_channel(ctx: Context, channel: str | None) -> str | None:
    """The reference of the incident whose own channel ``channel`` is (None for any other channel)."""
    if not channel:
        return None
    with ctx.read() as session:
        return session.scalar(
            select(Incident.ref)
            .join(IncidentRoom, IncidentRoom.incident_id == Incident.id)
            .where(IncidentRoom.channel_id == channel)
        )


def incident_of_thread(root_key: str | None) -> str | None:
    """The reference of the incident whose triage post heads the thread a message was written in."""
    match = TRIAGE_KEY.fullmatch(root_key or "")
    return match.group(1) if match else None


def ask_incident(ctx: Context, actor: Actor, message: SourceMessage) -> Outcome:
    """The shortcut used outside an incident channel: a small form asks which incident."""
    require(ctx, actor, TRIAGE, process="INC", what="adding to incident timelines")
    data = {"text": message.text[:CARRIED_TEXT], "author": message.author, "permalink": message.permalink}
    data.update(channel=message.channel, ts=message.ts)
    return Outcome(form=timeline_form(json.dumps(data, ensure_ascii=False)))


def message_from(metadata: str) -> SourceMessage | None:
    """The message the timeline form was opened for, from the form's metadata."""
    try:
        data = json.loads(metadata)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return None
    fields = ("author", "permalink", "channel", "ts")
    return SourceMessage(data["text"], *(str(data[f]) if data.get(f) else None for f in fields))


def add_to_timeline(ctx: Context, actor: Actor, *, key: str, ref: str, message: SourceMessage) -> Outcome:
    """A chat message becomes a timeline entry with its own author and time; the line in the triage
    thread says who added it. The same message is added to an incident once."""
    text = message.text.strip()
    if not text:
        raise Refused("That message has no text to add to the timeline.")

    def step(work: Work, incident: Incident) -> Outcome:
        if message.ts and not work.once(f"inc:{ref}:timeline:{message.channel}:{message.ts}"):
            raise Refused(f"That message is already in the timeline of {ref}.")
        author = find_person(ctx.org, message.author or "")
        author_id = author.id if author else (message.author or actor.id)
        at = _message_time(message.ts) or work.now
        shown = text if len(text) <= MAX_TIMELINE_TEXT else text[: MAX_TIMELINE_TEXT - 1] + "…"
        work.record(
            "INC",
            "timeline-added",
            ("incident", ref),
            {"author": author_id, "at": at.isoformat(), "text": shown, "permalink": message.permalink},
            retain=ctx.org.incidents.records_kept_for,
        )
        name, moment = person_name(ctx.org, author_id), when(at, ctx.org.zone)
        line = f"{actor.name} added to the timeline: {name}, {moment}: {shown}"
        timeline.add_line(work, incident, "message", line, entry_text=shown, at=at, actor_id=author_id)
        return Outcome.say(f"Added to the timeline of {ref}: {name}, {moment}.")

    return _triage(ctx, actor, ref, key=key, what="adding to incident timelines", step=step)


def _message_time(ts: str | None) -> datetime | None:
    """When a Slack message was written, from its ``ts`` (seconds since the epoch)."""
    try:
        return datetime.fromtimestamp(float(ts), UTC) if ts else None
    except (ValueError, OverflowError):
        return None


def post_incident_report(ctx: Context, actor: Actor, *, key: str, ref: str) -> Outcome:
    """``/incident report INC-…``: the post-incident report as it stands now, stored and posted, and
    shown whole to the person who asked."""

    def step(work: Work, incident: Incident) -> Outcome:
        written = postmortem.write(work, incident, f"asked by {actor.name}")
        return Outcome(
            reply=Message(
                text=f"Post-incident report {ref}, stored as a record and posted to the reports channel.",
                body=written.markdown,
                footer=f"SHA-256: Markdown {written.markdown_sha256}, HTML {written.html_sha256}",
            )
        )

    return _triage(ctx, actor, ref, key=key, what="writing post-incident reports", step=step, allowed=VIEWERS)


def close_warnings(session: Session, incident: Incident) -> tuple[str, ...]:
    """What closing the incident now would override: running clocks, a serious incident without handler."""
    warnings = [
        f"The {CLOCK_LABELS[clock.kind]} clock is still running." for clock in running(clocks_of(session, incident))
    ]
    if incident.severity in ("P1", "P2") and not incident.handler_id:
        warnings.append(f"This {incident.severity} incident has no handler.")
    return tuple(warnings)


def close(
    ctx: Context, actor: Actor, *, key: str, ref: str, root_cause: str, lessons: str, override: bool = False
) -> Outcome:
    """Close an incident; its lessons go to awareness (AWR) as input for training. With a clock still
    running, or a P1/P2 without handler, only when the person confirmed (``override``): recorded."""

    def step(work: Work, incident: Incident) -> Outcome:
        warnings = close_warnings(work.session, incident)
        if warnings and not override:
            raise Refused(f"{ref} was not closed: {' '.join(warnings)} Press Close again and confirm to close anyway.")
        if warnings:
            work.record("INC", "close-overridden", ("incident", ref), {"warnings": list(warnings)})
            timeline.add_line(work, incident, "override", f"{actor.name} closed it anyway: {' '.join(warnings)}")
        incident.status, incident.closed_at, incident.closed_by = IncidentStatus.CLOSED, work.now, actor.id
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
        closed = {"affected": incident.affected, "severity": incident.severity, "category": incident.category}
        publish(work, Interface("INC", "RA", "incident-closed", ref, closed))  # risks on affected assets
        _changed(work, incident, "closed", f"{actor.name} closed the incident. Root cause: {incident.root_cause}")
        timeline.tell_reporter(work, incident, "closed")
        postmortem.write(work, incident, "closed")
        return Outcome()

    return _triage(
        ctx, actor, ref, key=key, what="closing incidents", step=step, to=IncidentStatus.CLOSED, items=CLOSABLE
    )


def record_notification(
    ctx: Context,
    actor: Actor,
    *,
    key: str,
    ref: str,
    clock: str,
    at: datetime,
    note: str = "",
    decision: str = "authority",
) -> Outcome:
    """The dpo (or the team) records the decision on a regulatory deadline: the authority notified
    (when, reference), the people affected notified, or assessed as not notifiable (the reason).
    Each is a record and ends the clock's reminders."""

    def step(work: Work, incident: Incident) -> Outcome:
        target = next((c for c in running(clocks_of(work.session, incident)) if c.kind == clock), None)
        if target is None:
            raise Refused(f"No {CLOCK_LABELS.get(clock, clock)} clock is running for {ref}.")
        if decision not in DECISIONS:
            raise Refused("Please choose what was decided.")
        if decision == "not_notifiable" and not note.strip():
            raise Refused("Please give the reason it is not notifiable.")
        target.notified_at, target.notified_by, target.notified_note = at, actor.id, note.strip() or None
        target.decision = decision
        work.record(
            "INC",
            "not-notifiable" if decision == "not_notifiable" else "notified",
            ("incident", ref),
            {"clock": clock, "decision": decision, "at": at.isoformat(), "by": actor.id, "note": note.strip()},
        )
        made, label = when(at, ctx.org.zone), CLOCK_LABELS[clock]
        if decision == "not_notifiable":
            line = f"{actor.name} assessed the {label} as not notifiable: {note.strip()}"
            said = f"Recorded: {label} for {ref} assessed as not notifiable. Reminders stop."
        else:
            late = " (after the deadline)" if at > target.due_at else ""
            whom = "the authority" if decision == "authority" else "the people affected"
            reference = f" (reference: {note.strip()})" if note.strip() else ""
            line = f"{actor.name} recorded the {label}: {whom} notified on {made}{late}{reference}."
            said = f"Recorded: {label} for {ref}, {whom} notified on {made}. Reminders stop."
        _changed(work, incident, "notified", line)
        return Outcome.say(said)

    return _triage(ctx, actor, ref, key=key, what="recording regulatory notifications", step=step, allowed=NOTIFIERS)


def set_personal_data(ctx: Context, actor: Actor, *, key: str, ref: str, answer: str) -> Outcome:
    """The security team sets or corrects "personal data may be affected"; the GDPR clock follows
    (counted from when the incident was classified, the moment the organisation became aware)."""

    def step(work: Work, incident: Incident) -> Outcome:
        if answer not in PERSONAL_DATA_LABELS:
            raise Refused("Please answer yes, no or not sure.")
        if incident.personal_data == answer:
            raise Refused(f"{ref} already says: personal data may be affected: {PERSONAL_DATA_LABELS[answer]}.")
        before = incident.personal_data
        work.record("INC", "personal-data-set", ("incident", ref), {"from": before, "to": answer})
        incident.personal_data = answer
        shown = PERSONAL_DATA_LABELS[answer]
        _changed(work, incident, "personal_data", f"{actor.name} set personal data may be affected: {shown}.")
        return Outcome()

    return _triage(ctx, actor, ref, key=key, what="setting whether personal data is affected", step=step, within=OPEN)


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

    return _triage(ctx, actor, ref, key=key, what="requesting changes from incidents", step=step)


def open_form(ctx: Context, actor: Actor, callback_id: str, ref: str) -> Outcome:
    """The form behind a triage button, if the incident's state allows that step."""
    allowed = NOTIFIERS if callback_id == NOTIFIED else TRIAGE
    require(ctx, actor, allowed, process="INC", what="working on incidents", subject=("incident", ref))
    with ctx.read() as session:
        incident = INCIDENTS.load(session, ref, False)
        if incident is None:
            raise Refused(INCIDENTS.missing(ref))
        if callback_id == CLOSE and not LIFECYCLE.allows(incident.status, IncidentStatus.CLOSED):
            raise Refused(CLOSABLE.not_now(session, incident))
        kinds = running_clock_kinds(session, incident)
        if callback_id == PERSONAL_DATA and status_of(incident) not in OPEN:
            raise Refused(INCIDENTS.not_now(session, incident))
        warnings = close_warnings(session, incident) if callback_id == CLOSE else ()
        initial = {"personal_data": incident.personal_data or ""}
    if callback_id == NOTIFIED and not kinds:
        raise Refused(f"No regulatory clock is running for {ref}.")
    return Outcome(form=triage_form(ctx, callback_id, ref, clocks=kinds, initial=initial, warnings=warnings))


# -- clocks and timers: the plan applied, recorded and told --------------------------------------------


def _replan(work: Work, incident: Incident) -> None:
    """Bring clocks and timers in line with the incident's state. Safe to call after any change."""
    settings = work.ctx.org.incidents
    clocks = {clock.kind: clock for clock in clocks_of(work.session, incident)}
    plan = plan_clocks(settings, incident, clocks, work.now)
    why = "not an incident" if status_of(incident) == IncidentStatus.NOT_INCIDENT else "no personal data affected"
    for kind in plan.stop:
        clocks[kind].stopped_at = work.now
        work.record("INC", "clock-stopped", ("incident", incident.ref), {"clock": kind, "why": why})
        timeline.add_line(work, incident, "clock", f"{CLOCK_LABELS[kind]} clock stopped: {why}.")
    for kind, due_at in plan.start.items():
        clock = clocks.get(kind) or IncidentClock(incident_id=incident.id, kind=kind)
        clock.started_at, clock.stopped_at, clock.due_at = plan.since.get(kind, work.now), None, due_at
        work.session.add(clock)
        clocks[kind] = clock
    work.session.flush()
    for kind in plan.start:
        _announce(work, incident, clocks[kind])
    if plan.final_report_due is not None:
        clocks[FINAL_REPORT].due_at = plan.final_report_due
    _sync_timers(work, incident, wanted_timers(settings, incident, clocks.values()))


def _announce(work: Work, incident: Incident, clock: IncidentClock) -> None:
    """A clock started: recorded, a line in the thread, and the DPO told with the button to record."""
    text = messages.clock_started(work.ctx, incident, clock)
    work.record(
        "INC",
        "clock-started",
        ("incident", incident.ref),
        {"clock": clock.kind, "started_at": clock.started_at.isoformat(), "due_at": clock.due_at.isoformat()},
    )
    timeline.add_line(work, incident, "clock", text)
    timeline.tell_people(
        work, dpo(work.ctx.org), messages.dpo_message(incident, text), f"inc:{incident.ref}:clock:{clock.kind}:start"
    )


def _sync_timers(work: Work, incident: Incident, wanted: dict[str, datetime]) -> None:
    """Unsent timers that no longer apply are dropped, moved ones get their new time, sent ones stay
    as the proof of what went out."""
    query = select(IncidentTimer).where(IncidentTimer.incident_id == incident.id)
    timers = {timer.kind: timer for timer in work.session.scalars(query)}
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


# -- interfaces -----------------------------------------------------------------------------------------


def change_status(work: Work, event: Interface) -> None:
    """CHG moved a change this incident asked for (approved, in implementation...): shown on the post."""
    link = change_link(work.session, str(event.data.get("change")))
    state = event.data.get("state")
    if link is None or link.state == state:
        return
    link.state = state
    incident = INCIDENTS.load(work.session, event.subject_ref, True)
    if incident is not None:
        timeline.refresh_post(work, incident)


def change_finished(work: Work, event: Interface) -> None:
    """CHG reports a change this incident asked for as done, failed or declined."""
    incident = INCIDENTS.load(work.session, event.subject_ref, True)
    if incident is None:
        return
    ref = event.data.get("change", "")
    link = change_link(work.session, ref)
    if link is not None:
        link.state, link.result, link.finished_at = event.data.get("state"), event.data.get("result"), work.now
    state = str(event.data.get("state") or "finished")
    result = str(event.data.get("result") or "").strip()
    jira = f" ({event.data['jira_key']})" if event.data.get("jira_key") else ""
    line = f"Change {ref}{jira}: {messages.change_state(state)}." + (f" Result: {result}" if result else "")
    work.record("INC", "change-finished", ("incident", incident.ref), {"change": ref, "state": state})
    _changed(work, incident, "change", line)
    if incident.handler_id:
        timeline.tell_people(
            work,
            [incident.handler_id],
            messages.about(incident, f"{incident.ref}: {line}"),
            f"inc:{incident.ref}:change:{ref}:{state}",
        )

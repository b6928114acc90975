"""The post-incident report: what happened, in what order, and what was learned, rendered from the
incident's rows and records with the report templates every report uses (``report.md.j2`` and
``report.html`` through ``workflows/communication/reports.py``; an organisation may override them).

It is written on closure and whenever somebody asks (``/incident report INC-…``): stored as a record
(the Markdown text and the SHA-256 of both renderings, so what was shared can be proven later) and
posted, as a message with the report's Markdown, to the incident's channel and the reports channel,
with the HTML shared as a file beside each message (``workflows/outreach/files.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.models.incidents import Incident, IncidentEntry
from storage.models.records import Record
from workflows.communication.reports import Report, Table, render
from workflows.incidents import messages
from workflows.incidents.clocks import CLOCK_LABELS
from workflows.incidents.forms import PERSONAL_DATA_LABELS
from workflows.incidents.service import changes_of, clocks_of, room_of
from workflows.incidents.timeline import room_key
from workflows.kernel.people import person_name, span, when
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Work
from workflows.outreach.files import dated_name, share_each

REPORTS_CHANNEL = Recipient.channel("isms_reports")
NOT_YET = "Not recorded yet: the incident is not closed."
MAX_POSTED = 2800
"""Characters of the Markdown a chat post carries; longer reports end with where to get the rest."""


@dataclass(frozen=True)
class Written:
    """A post-incident report as stored: both renderings and their SHA-256."""

    markdown: str
    html: str

    @property
    def markdown_sha256(self) -> str:
        return hashlib.sha256(self.markdown.encode()).hexdigest()

    @property
    def html_sha256(self) -> str:
        return hashlib.sha256(self.html.encode()).hexdigest()


def build(work: Work, incident: Incident) -> Report:
    """The report's content, from the incident as it stands in this unit of work."""
    ctx, session, zone = work.ctx, work.session, work.ctx.org.zone
    settings = ctx.org.incidents
    severity = "not set"
    if incident.severity:
        severity = f"{incident.severity} {settings.severities.get(incident.severity).name}"
    summary = [
        f"{incident.ref}: {messages.headline(incident)}",
        f"Status: {messages.status_label(incident)}; severity {severity}",
        f"Category: {settings.categories.get(incident.category or '', incident.category or 'not given')}",
        f"Personal data may be affected: {PERSONAL_DATA_LABELS.get(incident.personal_data or '', 'not given')}",
        f"Reported by {incident.reporter_name}, {when(incident.reported_at, zone)}",
        f"Handler: {person_name(ctx.org, incident.handler_id)}",
    ]
    if incident.classified_at:
        summary.append(f"Classified {when(incident.classified_at, zone)}, {_after(incident, incident.classified_at)}")
    if incident.closed_at:
        summary.append(f"Closed {when(incident.closed_at, zone)}, {_after(incident, incident.closed_at)}")
    room = room_of(session, incident)
    if room is not None:
        summary.append(f"Incident channel: #{room.name}")
    entries = session.scalars(
        select(IncidentEntry)
        .where(IncidentEntry.incident_id == incident.id)
        .order_by(IncidentEntry.at, IncidentEntry.id)
    )
    timeline = [
        {"When": when(entry.at, zone), "Who": who, "What": _what(entry, who)}
        for entry in entries
        for who in [person_name(ctx.org, entry.actor_id)]
    ]
    severity_rows = [
        {
            "When": when(record.at, zone),
            "Who": person_name(ctx.org, record.actor),
            "From": str(data.get("from") or "not set"),
            "To": str(data.get("to") or ""),
        }
        for record, data in _records(work, incident.ref, "severity-set")
    ]
    clock_rows = [
        {
            "Deadline": CLOCK_LABELS.get(clock.kind, clock.kind),
            "Started": when(clock.started_at, zone),
            "Due": when(clock.due_at, zone),
            "Outcome": messages.clock_state(ctx, clock, work.now, live=False),
        }
        for clock in clocks_of(session, incident)
    ]
    told = [
        {
            "When": when(record.at, zone),
            "What": _told(work, record.action, data),
        }
        for record, data in _records(work, incident.ref, "emergency-plan-started", "escalated")
    ]
    change_rows = [
        {
            "Change": change.change_ref,
            "Title": change.title,
            "State": messages.change_state(change.state),
            "Result": change.result or "",
        }
        for change in changes_of(session, incident)
    ]
    tables = [
        Table("Timeline", ("When", "Who", "What"), timeline),
        Table("Severity history", ("When", "Who", "From", "To"), severity_rows),
        Table("Regulatory clocks and notifications", ("Deadline", "Started", "Due", "Outcome"), clock_rows),
        Table("People told", ("When", "What"), told),
        Table("Changes and their results", ("Change", "Title", "State", "Result"), change_rows),
    ]
    sections = [
        ("What happened", incident.summary.strip().splitlines() or ["(no description)"]),
        ("Root cause", [incident.root_cause or NOT_YET]),
        ("Lessons learned", (incident.lessons or NOT_YET).splitlines()),
    ]
    empty = [table.title for table in tables[1:] if not table.rows]
    if empty:  # said once in words rather than as empty tables
        sections.append(("Nothing to report", [f"{title}: none" for title in empty]))
    closed = _day(incident.closed_at, zone) if incident.closed_at else "now"
    return Report(
        kind="incidents",
        title=f"Post-incident report {incident.ref}",
        organisation=ctx.org.name,
        period=f"{_day(incident.reported_at, zone)} – {closed}",
        generated=when(work.now, zone),
        summary=summary,
        sections=sections,
        charts=[],
        tables=[table for table in tables if table.rows or table.title == "Timeline"],
    )


def _day(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%d %b %Y}"


def _what(entry: IncidentEntry, who: str) -> str:
    """A timeline entry's text without the name the "Who" column already shows: a step's line starts
    with its actor ("Sam Shah set severity P1" -> "Set severity P1"). A message added from chat is
    the author's own words and stays as written, as does a line naming somebody else first."""
    if entry.kind == "message" or not entry.text.startswith(f"{who} "):
        return entry.text
    rest = entry.text[len(who) + 1 :]
    return rest[:1].upper() + rest[1:]


def _after(incident: Incident, moment: datetime) -> str:
    taken = moment - incident.reported_at
    return "within a minute of the report" if taken < timedelta(minutes=1) else f"{span(taken)} after the report"


def _records(work: Work, ref: str, *actions: str) -> list[tuple[Record, dict[str, object]]]:
    """The incident's records of ``actions``, oldest first, with their data (empty once erased)."""
    query = (
        select(Record)
        .where(Record.subject_type == "incident", Record.subject_id == ref, Record.action.in_(actions))
        .order_by(Record.seq)
    )
    return [(record, json.loads(record.data) if record.data else {}) for record in work.session.scalars(query)]


def _told(work: Work, action: str, data: dict[str, object]) -> str:
    people = data.get("told") if action == "emergency-plan-started" else data.get("to")
    names = messages.names(work.ctx, [str(p) for p in people]) if isinstance(people, list) else ""
    what = "Emergency communication plan: told" if action == "emergency-plan-started" else "Escalated to"
    return f"{what} {names or 'nobody'}"


def write(work: Work, incident: Incident, why: str) -> Written:
    """Render the report, record it, and post it to the incident's channel and the reports channel."""
    report = build(work, incident)
    written = Written(render(work.ctx, report, "md"), render(work.ctx, report, "html"))
    number = len(_records(work, incident.ref, "post-incident-report")) + 1
    filename = dated_name("post-incident-report", incident.ref, work.now, work.ctx.org.zone, "html")
    work.record(
        "INC",
        "post-incident-report",
        ("incident", incident.ref),
        {
            "why": why,
            "markdown": written.markdown,
            "markdown_sha256": written.markdown_sha256,
            "html_sha256": written.html_sha256,
            "file": filename,
        },
        retain=work.ctx.org.incidents.records_kept_for,
    )
    posted = _posted(incident, written)
    key = f"inc:{incident.ref}:report:{number}:{incident.revision}"
    work.notify(REPORTS_CHANNEL, posted, key)
    shares = [(REPORTS_CHANNEL, f"{key}:file")]
    room = room_of(work.session, incident)
    if room is not None and room.archived_at is None and room.error is None:
        work.notify(Recipient.channel(room.name), posted, f"{key}:room", in_channel_of=room_key(incident.ref))
        if room.channel_id is not None:  # a file goes to a conversation id, known once the channel exists
            shares.append((Recipient("slack", room.channel_id), f"{key}:room:file"))
    title = f"Post-incident report {incident.ref}"
    comment = f"{title}: the whole report (HTML, prints on A4)."
    share_each(work, shares, filename=filename, content=written.html.encode(), title=title, comment=comment)
    return written


def _posted(incident: Incident, written: Written) -> Message:
    text = written.markdown.strip()
    if len(text) > MAX_POSTED:
        text = text[:MAX_POSTED].rstrip() + f"\n… the whole report: /incident report {incident.ref}"
    return Message(
        text=f"Post-incident report {incident.ref}: {messages.headline(incident)}",
        body=text,
        footer=f"SHA-256 (Markdown) {written.markdown_sha256}",
    )

"""Incident queries and the answers built from them: ``/incident mine`` for reporters, ``/isms
incidents`` for the team, the App Home items, and what a step reads about an incident.

A reporter sees their own reports and their status only. The team's list puts running regulatory
clocks first, because a missed authority deadline cannot be repaired later, then open incidents by
severity and age.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from config.organisation import Organisation, Role
from storage.aggregates import Spread, bucket, percentiles, seconds_between
from storage.models.incident_rooms import IncidentRoom
from storage.models.incidents import Incident, IncidentChange, IncidentClock, IncidentEntry
from workflows.incidents.clocks import CLOCK_LABELS
from workflows.incidents.lifecycle import OPEN, TRIAGE_ROLES, VIEWER_ROLES, IncidentStatus
from workflows.incidents.messages import STATUS_LABELS, clock_state, headline, status_label
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, clip, more_value, page_message, window
from workflows.kernel.people import ago, person_name, plural, when, with_role
from workflows.kernel.ui import Button, Message, Outcome
from workflows.kernel.work import Context
from workflows.performance import periods

RUNNING = (IncidentClock.notified_at.is_(None), IncidentClock.stopped_at.is_(None))


def clocks_of(session: Session, incident: Incident) -> list[IncidentClock]:
    return list(
        session.scalars(
            select(IncidentClock).where(IncidentClock.incident_id == incident.id).order_by(IncidentClock.due_at)
        )
    )


def changes_of(session: Session, incident: Incident) -> list[IncidentChange]:
    return list(
        session.scalars(
            select(IncidentChange).where(IncidentChange.incident_id == incident.id).order_by(IncidentChange.id)
        )
    )


def room_of(session: Session, incident: Incident) -> IncidentRoom | None:
    """The incident's own channel, if one was opened."""
    return session.scalar(select(IncidentRoom).where(IncidentRoom.incident_id == incident.id))


def change_link(session: Session, change_ref: str) -> IncidentChange | None:
    return session.scalar(select(IncidentChange).where(IncidentChange.change_ref == change_ref))


def dpo(org: Organisation) -> list[str]:
    """The dpo, or the ISMS manager where the organisation has named no dpo."""
    return with_role(org, Role.DPO) or with_role(org, Role.ISMS_MANAGER)


MORE = "incident.more"
MINE, OPEN_LIST = "mine", "open"


def my_reports(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/incident mine``: the person's own reports, newest first, one page at a time."""
    own = Incident.reporter_id == actor.id
    with ctx.read() as session:
        page = window(session.scalar(select(func.count()).select_from(Incident).where(own)) or 0, offset)
        reports = session.scalars(
            select(Incident).where(own).order_by(Incident.id.desc()).offset(page.offset).limit(page.size)
        ).all()
    if not page.total:
        return Outcome.say("You have not reported any incidents. To report one: /incident <what happened>.")
    lines = [
        f"{i.ref} · {status_label(i)} · reported {when(i.reported_at, ctx.org.zone)} · {headline(i)}" for i in reports
    ]
    return Outcome(
        reply=page_message(
            title=f"Your incident reports ({page.total:,})", lines=lines, page=page, more=MORE, name=MINE
        )
    )


def open_incidents(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms incidents``: counts first, then running regulatory clocks (soonest deadline first), then
    open incidents (those with a running clock first, then by severity, then oldest first), as one
    paged list."""
    if not actor.has(*VIEWER_ROLES):  # only asked to list: told where their own reports are, nothing recorded
        try:
            require(ctx, actor, VIEWER_ROLES, process="INC", what="the list of incidents", attempt=False)
        except Refused as refusal:
            raise Refused(f"{refusal} /incident mine lists your own reports.") from None
    now = ctx.clock()
    severity_order = case((Incident.severity.is_(None), 0), else_=1)
    running_clock = select(IncidentClock.id).where(IncidentClock.incident_id == Incident.id, *RUNNING).exists()
    clocked = case((running_clock, 0), else_=1)  # incidents with a running clock first
    open_ = Incident.status.in_(OPEN)
    with ctx.read() as session:
        clock_count = session.scalar(select(func.count()).select_from(IncidentClock).where(*RUNNING)) or 0
        by_severity = {
            severity: count
            for severity, count in session.execute(
                select(Incident.severity, func.count()).where(open_).group_by(Incident.severity)
            )
        }
        incident_count = sum(by_severity.values())
        page = window(clock_count + incident_count, offset)
        clocks = (
            session.execute(
                select(IncidentClock, Incident.ref)
                .join(Incident, Incident.id == IncidentClock.incident_id)
                .where(*RUNNING)
                .order_by(IncidentClock.due_at, IncidentClock.id)
                .offset(page.offset)
                .limit(page.size)
            ).all()
            if page.offset < clock_count
            else []
        )
        room = page.size - len(clocks)
        incidents = (
            session.scalars(
                select(Incident)
                .where(open_)
                .order_by(clocked, severity_order, Incident.severity, Incident.reported_at, Incident.id)
                .offset(max(0, page.offset - clock_count))
                .limit(room)
            ).all()
            if room > 0
            else []
        )
    if not page.total:
        return Outcome.say("No open incidents and no running regulatory clocks.")
    lines: list[str] = []
    if clocks:
        lines.append("Running regulatory clocks:")
        lines.extend(f"• {ref}: {CLOCK_LABELS[clock.kind]} {clock_state(ctx, clock, now)}" for clock, ref in clocks)
    if incidents:
        lines += [""] if clocks else []
        lines.append("Open incidents:")
        lines.extend(
            f"• {i.ref} [{i.severity or 'no severity'}] {status_label(i)} · handler "
            f"{person_name(ctx.org, i.handler_id)} · reported {ago(now - i.reported_at)} · {headline(i)}"
            for i in incidents
        )
    counts = [("Running clocks", f"{clock_count:,}"), ("Open incidents", f"{incident_count:,}")]
    counts += [
        (severity or "No severity", f"{count:,}") for severity, count in sorted(by_severity.items(), key=_severity_key)
    ]
    return Outcome(
        reply=page_message(
            title=f"{plural(incident_count, 'open incident')}, {plural(clock_count, 'running regulatory clock')}",
            counts=counts,
            lines=lines,
            page=page,
            items=len(clocks) + len(incidents),
            more=MORE,
            name=OPEN_LIST,
        )
    )


def _severity_key(item: tuple[str | None, int]) -> str:
    return item[0] or ""


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """What waits for this person in process INC, for the App Home: counts and the first few refs."""
    items: list[Message] = []
    with ctx.read() as session:
        own = (Incident.reporter_id == actor.id, Incident.status.in_(OPEN))
        reported = session.scalar(select(func.count()).select_from(Incident).where(*own)) or 0
        if reported:  # the person's own reports only, whatever their roles
            first = session.scalars(
                select(Incident.ref).where(*own).order_by(Incident.id.desc()).limit(HOME_ITEMS)
            ).all()
            items.append(
                Message(
                    text=f"You have {reported:,} open incident report{'' if reported == 1 else 's'}: {', '.join(first)}"
                    + (" …" if reported > len(first) else ""),
                    buttons=(Button(MORE, "Your reports", more_value(MINE, 0)),),
                )
            )
        if actor.has(*TRIAGE_ROLES):
            new = Incident.status == IncidentStatus.NEW
            waiting = session.scalar(select(func.count()).select_from(Incident).where(new)) or 0
            if waiting:
                first = session.scalars(select(Incident.ref).where(new).order_by(Incident.id).limit(HOME_ITEMS)).all()
                items.append(
                    Message(
                        text=f"{plural(waiting, 'incident report')} {'waits' if waiting == 1 else 'wait'} "
                        f"for triage: {', '.join(first)}" + (" …" if waiting > len(first) else ""),
                        buttons=(Button(MORE, "All open incidents", more_value(OPEN_LIST, 0)),),
                    )
                )
            handled = (Incident.status == IncidentStatus.INCIDENT, Incident.handler_id == actor.id)
            mine = session.scalar(select(func.count()).select_from(Incident).where(*handled)) or 0
            if mine:
                first = session.scalars(
                    select(Incident.ref).where(*handled).order_by(Incident.id).limit(HOME_ITEMS)
                ).all()
                items.append(
                    Message(
                        text=f"You handle {plural(mine, 'open incident')}: {', '.join(first)}"
                        + (" …" if mine > len(first) else "")
                    )
                )
        if actor.has(Role.DPO):
            running = session.scalar(select(func.count()).select_from(IncidentClock).where(*RUNNING)) or 0
            if running:
                items.append(
                    Message(
                        text=f"{plural(running, 'regulatory notification clock')} "
                        f"{'is' if running == 1 else 'are'} running: /isms incidents"
                    )
                )
    return items


def running_clock_kinds(session: Session, incident: Incident) -> tuple[str, ...]:
    """The kinds of the incident's running clocks, soonest first (the "Record notification" choices)."""
    query = select(IncidentClock.kind).where(IncidentClock.incident_id == incident.id, *RUNNING)
    return tuple(session.scalars(query.order_by(IncidentClock.due_at)))


# ------------------------------------------------------------------------------ status, metrics, reports
# Aggregates for process COM (status, digests, reports) and PERF (metrics): grouped in SQL, a few rows
# back however many incidents there are.

AGE_BUCKETS = (("under 1 day", timedelta(days=1)), ("1–7 days", timedelta(days=7)), ("over 7 days", None))


@dataclass(frozen=True)
class OpenIncidents:
    """Open incidents by severity (None: not yet rated) and age, the oldest report, running clocks."""

    by_severity: dict[str | None, int]
    by_age: dict[str, int]
    oldest: datetime | None
    clocks: int
    soonest_clocks: list[tuple[str, str, datetime]]
    """``(ref, clock label, due)`` of the running clocks with the soonest deadlines."""

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


def open_summary(session: Session, now: datetime, *, reporter: str | None = None, clocks: int = 5) -> OpenIncidents:
    """Counts for ``/isms status``: one grouped query for severity and age, one for clocks.
    ``reporter`` narrows everything to one person's reports (an employee's own view)."""
    where: list[ColumnElement[bool]] = [Incident.status.in_(OPEN)]
    if reporter is not None:
        where.append(Incident.reporter_id == reporter)
    bounds = [(label, now - limit) for label, limit in AGE_BUCKETS if limit is not None]
    age = case(*((Incident.reported_at > since, label) for label, since in bounds), else_=AGE_BUCKETS[-1][0])
    by_severity: dict[str | None, int] = {}
    by_age: dict[str, int] = {}
    oldest: datetime | None = None
    # The oldest open report comes with the counts: as a query of its own, PostgreSQL walked every
    # incident in reported_at order from the first until an open one (81 ms at 1M records).
    for severity, aged, count, first in session.execute(
        select(Incident.severity, age, func.count(), func.min(Incident.reported_at))
        .where(*where)
        .group_by(Incident.severity, age)
    ):
        by_severity[severity] = by_severity.get(severity, 0) + count
        by_age[aged] = by_age.get(aged, 0) + count
        oldest = first if oldest is None or (first is not None and first < oldest) else oldest
    running: list[ColumnElement[bool]] = [*RUNNING]
    query = select(Incident.ref, IncidentClock.kind, IncidentClock.due_at).join(
        Incident, Incident.id == IncidentClock.incident_id
    )
    count_query = select(func.count()).select_from(IncidentClock)
    if reporter is not None:
        running.append(Incident.reporter_id == reporter)
        count_query = count_query.join(Incident, Incident.id == IncidentClock.incident_id)
    clock_count = session.scalar(count_query.where(*running)) or 0
    soonest = [
        (ref, CLOCK_LABELS.get(kind, kind), due)
        for ref, kind, due in session.execute(query.where(*running).order_by(IncidentClock.due_at).limit(clocks))
    ]
    return OpenIncidents(by_severity, by_age, _aware(oldest), clock_count, soonest)


def _aware(value: datetime | None) -> datetime | None:
    """``min()`` over a UTC column comes back naive from SQLite (the column type is not applied)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def triage_times(session: Session, since: datetime, until: datetime) -> dict[str | None, Spread]:
    """Seconds from report to the triage decision (incident or not), per severity, for reports made
    in ``[since, until)`` that were triaged."""
    return _spreads(
        session,
        seconds_between(Incident.reported_at, Incident.classified_at),
        [Incident.reported_at >= since, Incident.reported_at < until, Incident.classified_at.is_not(None)],
    )


def resolve_times(session: Session, since: datetime, until: datetime) -> dict[str | None, Spread]:
    """Seconds from report to closure, per severity, for incidents closed in ``[since, until)``."""
    return _spreads(
        session,
        seconds_between(Incident.reported_at, Incident.closed_at),
        [Incident.closed_at >= since, Incident.closed_at < until],
    )


def _spreads(
    session: Session, value: ColumnElement[float], where: list[ColumnElement[bool]]
) -> dict[str | None, Spread]:
    found = percentiles(session, value, Incident.severity, where)
    return {(str(key) if key is not None else None): spread for key, spread in found.items()}


def late_resolutions(
    session: Session, since: datetime, until: datetime, targets: dict[str, float]
) -> dict[str, tuple[int, int]]:
    """Per severity: (closed in the period, of them closed later than the severity's target seconds)."""
    took = seconds_between(Incident.reported_at, Incident.closed_at)
    late = case(*((Incident.severity == s, case((took > t, 1), else_=0)) for s, t in targets.items()), else_=0)
    rows = session.execute(
        select(Incident.severity, func.count(), func.sum(late))
        .where(Incident.closed_at >= since, Incident.closed_at < until, Incident.severity.is_not(None))
        .group_by(Incident.severity)
    )
    return {str(severity): (int(count), int(late_count or 0)) for severity, count, late_count in rows}


def reported_per_month(
    session: Session, months: Sequence[tuple[str, datetime, datetime]]
) -> dict[tuple[str, str | None], int]:
    """Reports that became incidents (incident or closed), per ``(month, severity)``, months as given."""
    if not months:
        return {}
    month = bucket(Incident.reported_at, months)
    rows = session.execute(
        select(month, Incident.severity, func.count())
        .where(
            Incident.reported_at >= months[0][1],
            Incident.reported_at < months[-1][2],
            Incident.status.in_((IncidentStatus.INCIDENT, IncidentStatus.CLOSED)),
        )
        .group_by(month, Incident.severity)
    )
    return {(str(label), severity): int(count) for label, severity, count in rows}


def period_counts(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    """Reported, closed and judged not an incident in ``[since, until)`` (one query)."""
    inside = (Incident.reported_at >= since) & (Incident.reported_at < until)
    closed = (Incident.closed_at >= since) & (Incident.closed_at < until)
    row = session.execute(
        select(
            func.sum(case((inside, 1), else_=0)),
            func.sum(case((closed, 1), else_=0)),
            func.sum(case((inside & (Incident.status == IncidentStatus.NOT_INCIDENT), 1), else_=0)),
        ).where(inside | closed)  # the two time indexes, not every incident ever reported
    ).one()
    return {"reported": int(row[0] or 0), "closed": int(row[1] or 0), "not incidents": int(row[2] or 0)}


REGISTER_COLUMNS = (
    "ref",
    "status",
    "severity",
    "category",
    "reported_at",
    "reporter",
    "handler",
    "classified_at",
    "closed_at",
    "personal_data",
    "summary",
)


def register(
    session: Session, since: datetime, until: datetime, *, reporter: str | None = None
) -> Iterator[dict[str, str]]:
    """The incident register: every report made in ``[since, until)`` (only ``reporter``'s when
    given), oldest first, streamed in chunks."""
    query = select(Incident).where(Incident.reported_at >= since, Incident.reported_at < until)
    if reporter is not None:
        query = query.where(Incident.reporter_id == reporter)
    for incident in session.scalars(query.order_by(Incident.id).execution_options(yield_per=1000)):
        yield {
            "ref": incident.ref,
            "status": incident.status,
            "severity": incident.severity or "",
            "category": incident.category or "",
            "reported_at": incident.reported_at.isoformat(),
            "reporter": incident.reporter_name,
            "handler": incident.handler_id or "",
            "classified_at": incident.classified_at.isoformat() if incident.classified_at else "",
            "closed_at": incident.closed_at.isoformat() if incident.closed_at else "",
            "personal_data": incident.personal_data or "",
            "summary": clip(incident.summary, 500),
        }


def recent(session: Session, limit: int, *, reporter: str | None = None) -> list[tuple[str, str, str | None, datetime]]:
    """``(ref, status, severity, reported_at)`` of the newest reports."""
    query = select(Incident.ref, Incident.status, Incident.severity, Incident.reported_at)
    if reporter is not None:
        query = query.where(Incident.reporter_id == reporter)
    return [tuple(row) for row in session.execute(query.order_by(Incident.id.desc()).limit(limit))]  # type: ignore[misc]


# ------------------------------------------------------------------------------ /isms incidents all
ALL_LIST = "all"
"""The "More" name of ``/isms incidents all [PERIOD]``: ``all`` or ``all <period label>``."""


def all_incidents(ctx: Context, actor: Actor, period_text: str = "", offset: int = 0) -> Outcome:
    """``/isms incidents all [PERIOD]``: every report, open and closed (events and incidents), reported
    in the period when one is given (``2026-Q4``, ``since 2026-10-01``), newest first; counts by
    status first, one page at a time. For the same people as ``/isms incidents``."""
    require(ctx, actor, VIEWER_ROLES, process="INC", what="the list of incidents")
    now = ctx.clock()
    period = periods.parse(period_text, ctx.org.zone, now) if period_text.strip() else None
    where: list[ColumnElement[bool]] = []
    if period is not None:
        where += [Incident.reported_at >= period.start, Incident.reported_at < period.end]
    with ctx.read() as session:
        by_status = {
            str(status): count
            for status, count in session.execute(
                select(Incident.status, func.count()).where(*where).group_by(Incident.status)
            )
        }
        page = window(sum(by_status.values()), offset)
        shown = session.scalars(
            select(Incident).where(*where).order_by(Incident.id.desc()).offset(page.offset).limit(page.size)
        ).all()
    during = (
        f" reported {period.label}"
        if period and period.label.startswith("since")
        else (f" reported in {period.label}" if period else "")
    )
    if not page.total:
        return Outcome.say(f"No incident reports{during}.")
    zone = ctx.org.zone
    lines = [
        f"{i.ref} · {status_label(i)} · {i.severity or 'no severity'} · reported {when(i.reported_at, zone)}"
        + (f" · closed {when(i.closed_at, zone)}" if i.closed_at else "")
        + f" · {headline(i)}"
        for i in shown
    ]
    return Outcome(
        reply=page_message(
            title=f"{plural(page.total, 'incident report')}{during}, open and closed",
            counts=[
                (STATUS_LABELS[status], f"{by_status[status]:,}") for status in IncidentStatus if status in by_status
            ],
            lines=lines,
            page=page,
            more=MORE,
            name=f"{ALL_LIST} {period.label}" if period else ALL_LIST,
            footer="Newest first.",
        )
    )


TIMELINE = "timeline"
"""The timeline list's name in its "More" button: ``timeline INC-2026-0042``."""
EMPTY_TIMELINE = (
    "Nothing on it yet. Each triage step (severity, handler, state) adds an entry, and the message "
    "shortcut “Add to incident timeline” adds any message from Slack."
)
"""What an empty timeline says, so the reader knows how it fills up."""


def timeline_page(ctx: Context, actor: Actor, ref: str, offset: int = 0) -> Outcome:
    """``/incident timeline INC-…``: every entry of the incident's timeline (its steps, the messages
    added from chat), oldest first, one page at a time. For those who see every incident."""
    require(ctx, actor, VIEWER_ROLES, process="INC", what="reading incident timelines", attempt=False)
    ref = ref.strip().upper()
    with ctx.read() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.ref == ref))
        if incident_id is None:
            raise Refused(f"There is no incident {ref}.")
        of_incident = IncidentEntry.incident_id == incident_id
        page = window(session.scalar(select(func.count()).select_from(IncidentEntry).where(of_incident)) or 0, offset)
        entries = session.scalars(
            select(IncidentEntry)
            .where(of_incident)
            .order_by(IncidentEntry.at, IncidentEntry.id)
            .offset(page.offset)
            .limit(page.size)
        ).all()
    lines = [
        f"{when(e.at, ctx.org.zone)} · "
        + (f"{person_name(ctx.org, e.actor_id)}: {e.text}" if e.kind == "message" else e.text)
        for e in entries
    ]
    return Outcome(
        reply=page_message(
            title=f"Timeline of {ref} ({plural(page.total, 'entry', 'entries')})",
            lines=lines,
            page=page,
            more=MORE,
            name=f"{TIMELINE} {ref}",
            note="" if lines else EMPTY_TIMELINE,
        )
    )

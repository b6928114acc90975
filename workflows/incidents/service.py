"""Incident queries and the answers built from them: ``/incident mine`` for reporters, ``/isms
incidents`` for the team, the App Home items, and what a step reads about an incident.

A reporter sees their own reports and their status only. The team's list puts running regulatory
clocks first, because a missed authority deadline cannot be repaired later, then open incidents by
severity and age.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from config.organisation import Organisation, Role
from storage.models.incidents import Incident, IncidentChange, IncidentClock
from workflows.incidents.clocks import CLOCK_LABELS
from workflows.incidents.lifecycle import OPEN, TRIAGE_ROLES, VIEWER_ROLES, IncidentStatus
from workflows.incidents.messages import clock_state, headline, status_label
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, more_value, page_message, window
from workflows.kernel.people import person_name, span, when, with_role
from workflows.kernel.ui import Button, Message, Outcome
from workflows.kernel.work import Context

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
    open incidents by severity and age, as one paged list."""
    require(ctx, actor, VIEWER_ROLES, process="INC", what="the list of incidents")
    now = ctx.clock()
    severity_order = case((Incident.severity.is_(None), 0), else_=1)
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
                .order_by(severity_order, Incident.severity, Incident.reported_at, Incident.id)
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
            f"{person_name(ctx.org, i.handler_id)} · reported {span(now - i.reported_at)} ago · {headline(i)}"
            for i in incidents
        )
    counts = [("Running clocks", f"{clock_count:,}"), ("Open incidents", f"{incident_count:,}")]
    counts += [
        (severity or "No severity", f"{count:,}") for severity, count in sorted(by_severity.items(), key=_severity_key)
    ]
    return Outcome(
        reply=page_message(
            title=f"{incident_count:,} open incident(s), {clock_count:,} running regulatory clock(s)",
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
        if actor.has(*TRIAGE_ROLES):
            new = Incident.status == IncidentStatus.NEW
            waiting = session.scalar(select(func.count()).select_from(Incident).where(new)) or 0
            if waiting:
                first = session.scalars(select(Incident.ref).where(new).order_by(Incident.id).limit(HOME_ITEMS)).all()
                items.append(
                    Message(
                        text=f"{waiting:,} incident report(s) wait for triage: {', '.join(first)}"
                        + (" …" if waiting > len(first) else ""),
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
                        text=f"You handle {mine:,} open incident(s): {', '.join(first)}"
                        + (" …" if mine > len(first) else "")
                    )
                )
        if actor.has(Role.DPO):
            running = session.scalar(select(func.count()).select_from(IncidentClock).where(*RUNNING)) or 0
            if running:
                items.append(Message(text=f"{running:,} regulatory notification clock(s) are running: /isms incidents"))
    return items


def running_clock_kinds(session: Session, incident: Incident) -> tuple[str, ...]:
    """The kinds of the incident's running clocks, soonest first (the "Record notification" choices)."""
    query = select(IncidentClock.kind).where(IncidentClock.incident_id == incident.id, *RUNNING)
    return tuple(session.scalars(query.order_by(IncidentClock.due_at)))

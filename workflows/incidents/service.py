"""Incident queries and the answers built from them: ``/incident mine`` for reporters, ``/isms
incidents`` for the team, the App Home items, and what a step reads about an incident.

A reporter sees their own reports and their status only. The team's list puts running regulatory
clocks first, because a missed authority deadline cannot be repaired later, then open incidents by
severity and age.
"""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from config.organisation import Organisation, Role
from storage.models.incidents import Incident, IncidentChange, IncidentClock
from workflows.incidents.clocks import CLOCK_LABELS
from workflows.incidents.lifecycle import OPEN, TRIAGE_ROLES, VIEWER_ROLES, IncidentStatus
from workflows.incidents.messages import clock_state, headline, status_label
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.people import person_name, span, when, with_role
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

MAX_LISTED = 50
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


def my_reports(ctx: Context, actor: Actor) -> Outcome:
    with ctx.read() as session:
        reports = session.scalars(
            select(Incident).where(Incident.reporter_id == actor.id).order_by(Incident.id.desc()).limit(MAX_LISTED)
        ).all()
    if not reports:
        return Outcome.say("You have not reported any incidents. To report one: /incident <what happened>.")
    lines = [
        f"{i.ref} · {status_label(i)} · reported {when(i.reported_at, ctx.org.zone)} · {headline(i)}" for i in reports
    ]
    return Outcome(reply=Message(text=f"Your incident reports ({len(reports)})", body="\n".join(lines)))


def open_incidents(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, VIEWER_ROLES, process="INC", what="the list of incidents")
    now = ctx.clock()
    severity_order = case((Incident.severity.is_(None), 0), else_=1)
    with ctx.read() as session:
        clocks = session.execute(
            select(IncidentClock, Incident.ref)
            .join(Incident, Incident.id == IncidentClock.incident_id)
            .where(*RUNNING)
            .order_by(IncidentClock.due_at)
            .limit(MAX_LISTED)
        ).all()
        incidents = session.scalars(
            select(Incident)
            .where(Incident.status.in_(OPEN))
            .order_by(severity_order, Incident.severity, Incident.reported_at)
            .limit(MAX_LISTED)
        ).all()
    lines: list[str] = []
    if clocks:
        lines.append("Running regulatory clocks:")
        lines.extend(f"• {ref}: {CLOCK_LABELS[clock.kind]} {clock_state(ctx, clock, now)}" for clock, ref in clocks)
        lines.append("")
    if incidents:
        lines.append("Open incidents:")
        for i in incidents:
            lines.append(
                f"• {i.ref} [{i.severity or 'no severity'}] {status_label(i)} · handler "
                f"{person_name(ctx.org, i.handler_id)} · reported {span(now - i.reported_at)} ago · {headline(i)}"
            )
    if not lines:
        return Outcome.say("No open incidents and no running regulatory clocks.")
    title = f"{len(incidents)} open incident(s), {len(clocks)} running regulatory clock(s)"
    return Outcome(reply=Message(text=title, body="\n".join(lines).strip()))


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """What waits for this person in process INC, for the App Home."""
    items: list[Message] = []
    with ctx.read() as session:
        if actor.has(*TRIAGE_ROLES):
            waiting = session.scalars(select(Incident.ref).where(Incident.status == IncidentStatus.NEW)).all()
            if waiting:
                listed = ", ".join(waiting[:10])
                items.append(Message(text=f"{len(waiting)} incident report(s) wait for triage: {listed}"))
            mine = session.scalars(
                select(Incident.ref).where(Incident.status == IncidentStatus.INCIDENT, Incident.handler_id == actor.id)
            ).all()
            if mine:
                items.append(Message(text=f"You handle {len(mine)} open incident(s): {', '.join(mine[:10])}"))
        if actor.has(Role.DPO):
            running = session.scalars(select(IncidentClock.id).where(*RUNNING)).all()
            if running:
                items.append(
                    Message(text=f"{len(running)} regulatory notification clock(s) are running: /isms incidents")
                )
    return items


def running_clock_kinds(session: Session, incident: Incident) -> tuple[str, ...]:
    """The kinds of the incident's running clocks, soonest first (the "Record notification" choices)."""
    query = select(IncidentClock.kind).where(IncidentClock.incident_id == incident.id, *RUNNING)
    return tuple(session.scalars(query.order_by(IncidentClock.due_at)))

"""Incident lists: ``/incident mine`` for reporters, ``/isms incidents`` for the team, App Home items.

A reporter sees their own reports and their status only. The team's list puts running regulatory
clocks first, because a missed authority deadline cannot be repaired later, then open incidents by
severity and age.
"""

from __future__ import annotations

from sqlalchemy import case, select

from storage.models.incidents import Incident, IncidentClock
from workflows.incidents.messages import (
    CLOCK_LABELS,
    STATUS_LABELS,
    TRIAGE_ROLES,
    clock_state,
    headline,
    person_name,
    span,
    when,
)
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

VIEWER_ROLES = TRIAGE_ROLES | {"auditor", "dpo"}
MAX_LISTED = 50


def my_reports(ctx: Context, actor: Actor) -> Outcome:
    with ctx.read() as session:
        reports = session.scalars(
            select(Incident).where(Incident.reporter_id == actor.id).order_by(Incident.id.desc()).limit(MAX_LISTED)
        ).all()
    if not reports:
        return Outcome.say("You have not reported any incidents. To report one: /incident <what happened>.")
    lines = [
        f"{i.ref} · {STATUS_LABELS[i.status]} · reported {when(ctx, i.reported_at)} · {headline(i)}" for i in reports
    ]
    return Outcome(reply=Message(text=f"Your incident reports ({len(reports)})", body="\n".join(lines)))


def open_incidents(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, VIEWER_ROLES, process="INC", what="the list of incidents")
    now = ctx.clock()
    severity_order = case((Incident.severity.is_(None), 0), else_=1)
    with ctx.read() as session:
        clocks = session.execute(
            select(IncidentClock, Incident.ref, Incident.summary)
            .join(Incident, Incident.id == IncidentClock.incident_id)
            .where(IncidentClock.notified_at.is_(None), IncidentClock.stopped_at.is_(None))
            .order_by(IncidentClock.due_at)
            .limit(MAX_LISTED)
        ).all()
        incidents = session.scalars(
            select(Incident)
            .where(Incident.status.in_(("new", "incident")))
            .order_by(severity_order, Incident.severity, Incident.reported_at)
            .limit(MAX_LISTED)
        ).all()
    lines: list[str] = []
    if clocks:
        lines.append("Running regulatory clocks:")
        lines.extend(f"• {ref}: {CLOCK_LABELS[clock.kind]} {clock_state(ctx, clock, now)}" for clock, ref, _ in clocks)
        lines.append("")
    if incidents:
        lines.append("Open incidents:")
        for i in incidents:
            lines.append(
                f"• {i.ref} [{i.severity or 'no severity'}] {STATUS_LABELS[i.status]} · handler "
                f"{person_name(ctx, i.handler_id)} · reported {span(now - i.reported_at)} ago · {headline(i)}"
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
            waiting = session.scalars(select(Incident.ref).where(Incident.status == "new")).all()
            if waiting:
                listed = ", ".join(waiting[:10])
                items.append(Message(text=f"{len(waiting)} incident report(s) wait for triage: {listed}"))
            mine = session.scalars(
                select(Incident.ref).where(Incident.status == "incident", Incident.handler_id == actor.id)
            ).all()
            if mine:
                items.append(Message(text=f"You handle {len(mine)} open incident(s): {', '.join(mine[:10])}"))
        if actor.has("dpo"):
            running = session.scalars(
                select(IncidentClock.id).where(IncidentClock.notified_at.is_(None), IncidentClock.stopped_at.is_(None))
            ).all()
            if running:
                items.append(
                    Message(text=f"{len(running)} regulatory notification clock(s) are running: /isms incidents")
                )
    return items

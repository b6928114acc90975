"""What campaigns answer from their tables: completion per campaign, department and overall, who is
missing, the status lines and a person's own open items. Counts are grouped in SQL; lists are paged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models.awareness import Campaign, CampaignAssignment
from workflows.awareness import messages
from workflows.awareness.lifecycle import DONE, OPEN, OVERSEERS, PROCESS_ID
from workflows.awareness.messages import ALL_LIST, MISSING_LIST, MORE, share, what
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, clip, page_message, window
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.ui import Button, Message, Outcome
from workflows.kernel.work import Context

NO_DEPARTMENT = "no department"
DEPARTMENTS_SHOWN = 15
STATUS_CAMPAIGNS = 5

_done = func.sum(case((CampaignAssignment.status == DONE, 1), else_=0))


def progress(session: Session, campaign_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Campaign id -> (done, total), one grouped query."""
    rows = session.execute(
        select(CampaignAssignment.campaign_id, _done, func.count())
        .where(CampaignAssignment.campaign_id.in_(campaign_ids))
        .group_by(CampaignAssignment.campaign_id)
    )
    return {campaign_id: (int(done or 0), int(total)) for campaign_id, done, total in rows}


def completion_due(session: Session, since: datetime, until: datetime) -> tuple[int, int, int]:
    """(campaigns, assignments done, assignments) over the campaigns due in ``[since, until)``, for
    PERF's completion metric; done counts every confirmation, also one after the due date."""
    campaigns, done, assigned = session.execute(
        select(func.count(func.distinct(Campaign.id)), _done, func.count(CampaignAssignment.id))
        .select_from(Campaign)
        .outerjoin(CampaignAssignment, CampaignAssignment.campaign_id == Campaign.id)
        .where(Campaign.due_at >= since, Campaign.due_at < until)
    ).one()
    return int(campaigns), int(done or 0), int(assigned)


def _line(campaign: Campaign, done: int, total: int, ctx: Context, now: datetime) -> str:
    ended = "complete" if done == total else "closed early"
    state = ended if campaign.completed_at else ("overdue" if campaign.due_at <= now else "open")
    due = when(campaign.due_at, ctx.org.zone)
    return f"{campaign.ref} {what(campaign)}: {share(done, total)} done, due {due}, {state}"


def campaigns(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms campaigns``: overall completion first, then every campaign, newest first."""
    require(ctx, actor, OVERSEERS, process=PROCESS_ID, what="the campaign overview", attempt=False)
    now = ctx.clock()
    with ctx.read() as session:
        count, still_open = session.execute(
            select(func.count(), func.sum(case((Campaign.completed_at.is_(None), 1), else_=0)))
        ).one()
        done, total = session.execute(select(_done, func.count()).select_from(CampaignAssignment)).one()
        page = window(int(count), offset)
        shown = list(
            session.scalars(select(Campaign).order_by(Campaign.id.desc()).offset(page.offset).limit(page.size))
        )
        counts = progress(session, [c.id for c in shown])
    lines = [_line(c, *counts.get(c.id, (0, 0)), ctx, now) for c in shown]
    return Outcome(
        reply=page_message(
            title="Awareness campaigns",
            lines=lines,
            page=page,
            more=MORE,
            name=ALL_LIST,
            counts=(
                ("Campaigns", f"{int(count):,} ({int(still_open or 0):,} open)"),
                ("Overall", f"{share(int(done or 0), int(total))} done" if total else "nobody asked yet"),
            ),
            note="" if lines else "No campaign has been started yet. /isms campaign new starts one.",
            footer="/isms campaigns AWR-<n> shows one by department, with who is missing.",
        )
    )


def campaign(ctx: Context, actor: Actor, ref: str, offset: int = 0) -> Outcome:
    """``/isms campaigns AWR-0001``: completion overall and per department, then who is missing."""
    require(ctx, actor, OVERSEERS, process=PROCESS_ID, what="the campaign overview", attempt=False)
    ref = ref.strip().upper()
    with ctx.read() as session:
        found = session.scalar(select(Campaign).where(Campaign.ref == ref))
        if found is None:
            raise Refused(f"There is no campaign {ref or '(none given)'}. /isms campaigns lists them.")
        department = CampaignAssignment.department
        by_department = sorted(
            session.execute(
                select(department, _done, func.count())
                .where(CampaignAssignment.campaign_id == found.id)
                .group_by(department)
            ).all(),
            key=lambda row: (row[0] is None, row[0] or ""),
        )
        missing = (CampaignAssignment.campaign_id == found.id, CampaignAssignment.status == OPEN)
        page = window(session.scalar(select(func.count()).select_from(CampaignAssignment).where(*missing)) or 0, offset)
        people = session.execute(
            select(CampaignAssignment.person_id, department)
            .where(*missing)
            .order_by(department.is_(None), department, CampaignAssignment.person_id)
            .offset(page.offset)
            .limit(page.size)
        ).all()
    done = sum(int(d or 0) for _, d, _ in by_department)
    total = sum(int(t) for _, _, t in by_department)
    departments = [
        f"{clip(name or NO_DEPARTMENT, 60)}: {share(int(d or 0), int(t))}"
        for name, d, t in by_department[:DEPARTMENTS_SHOWN]
    ]
    if len(by_department) > DEPARTMENTS_SHOWN:
        departments.append(f"… and {plural(len(by_department) - DEPARTMENTS_SHOWN, 'more department')}")
    note = "By department: " + "; ".join(departments) + "."
    note += f"\nStill missing ({page.total:,}):" if page.total else "\nNobody is missing."
    lines = [f"{person_name(ctx.org, person)} ({dept or NO_DEPARTMENT})" for person, dept in people]
    return Outcome(
        reply=page_message(
            title=f"{found.ref}: {what(found)}",
            lines=lines,
            page=page,
            more=MORE,
            name=f"{MISSING_LIST} {found.ref}",
            counts=(("Done", share(done, total)), ("Due", when(found.due_at, ctx.org.zone))),
            note=note,
        )
    )


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """``/isms status``: open campaigns and their completion, the soonest due first."""
    still_open = Campaign.completed_at.is_(None)
    count, overdue = session.execute(
        select(func.count(), func.sum(case((Campaign.due_at <= now, 1), else_=0))).where(still_open)
    ).one()
    if not count:
        return []  # nothing to say: left out of /isms status
    done, total = session.execute(
        select(_done, func.count()).join(Campaign, Campaign.id == CampaignAssignment.campaign_id).where(still_open)
    ).one()
    shown = list(
        session.scalars(
            select(Campaign).where(still_open).order_by(Campaign.due_at, Campaign.id).limit(STATUS_CAMPAIGNS)
        )
    )
    counts = progress(session, [c.id for c in shown])
    head = f"Awareness: {plural(int(count), 'open campaign')}"
    head += f" ({int(overdue):,} overdue)" if overdue else ""
    lines = [f"{head}: {share(int(done or 0), int(total))} done"]
    lines += [f"  {_line(c, *counts.get(c.id, (0, 0)), ctx, now)}" for c in shown]
    return lines


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """This person's open campaign items, each with its button."""
    mine = (CampaignAssignment.person_id == actor.id, CampaignAssignment.status == OPEN)
    with ctx.read() as session:
        count = session.scalar(select(func.count()).select_from(CampaignAssignment).where(*mine)) or 0
        rows = session.execute(
            select(CampaignAssignment.id, Campaign)
            .join(Campaign, Campaign.id == CampaignAssignment.campaign_id)
            .where(*mine)
            .order_by(Campaign.due_at, CampaignAssignment.id)
            .limit(HOME_ITEMS)
        ).all()
    items = [
        Message(
            text=f"To do: {what(c)}",
            fields=(("Material", c.link), ("Due", when(c.due_at, ctx.org.zone))),
            buttons=(Button(messages.DONE_ACTION, messages.confirm_label(c), str(assignment_id), "primary"),),
        )
        for assignment_id, c in rows
    ]
    if count > len(rows):
        items.append(Message(text=f"{count:,} trainings and policies wait for you; these are the first {len(rows)}."))
    return items

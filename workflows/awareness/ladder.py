"""Asking, reminding and escalating for campaign assignments, by the rules evidence requests follow.

The steps of an assignment, in order: the ask (as soon as the person's quiet hours allow); reminders
some days before the due date (the campaign's plan); reminders after it
(``awareness.overdue_reminder_days``); then one note to the person's manager
(``awareness.escalate_after_days``; the organisation file's manager, else the directory's, as evidence
escalations find them); then a reminder every ``repeat_every_days`` until they confirm, at most until
``repeat_until_days`` after the due date (somebody who left the organisation is not nagged for ever;
they stay listed as missing in ``/isms campaigns``). Each step goes out at ``activities.send_at`` in
the person's timezone, outside quiet hours; when several steps came due while the bot was down, only
the latest is sent (the others are recorded as skipped). Each assignment keeps the index of its next
step and when it is due (``next_action_at``, indexed), so a tick reads only what is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.awareness import Campaign, CampaignAssignment
from workflows.awareness import messages
from workflows.awareness.lifecycle import OPEN, PROCESS_ID
from workflows.evidence.ladder import manager_of
from workflows.kernel.batches import BatchReport, due_finder, load_due, run_batches
from workflows.kernel.quiet_hours import next_allowed
from workflows.kernel.recipients import Recipient
from workflows.kernel.timezones import zones_for
from workflows.kernel.work import Context, Work
from workflows.outreach.mail import reach, send_mail


@dataclass(frozen=True)
class Step:
    kind: Literal["ask", "remind", "overdue", "escalate"]
    days: int
    """Relative to the due date: negative before it, positive after it (unused for the ask)."""


def ladder(ctx: Context, campaign: Campaign) -> tuple[Step, ...]:
    settings = ctx.org.awareness
    steps = [Step("ask", 0)]
    steps += [Step("remind", -days) for days in sorted(campaign.remind_before, reverse=True)]
    steps += [Step("overdue", days) for days in sorted(settings.overdue_reminder_days)]
    steps.append(Step("escalate", settings.escalate_after_days))
    return tuple(steps)


def step_of(ctx: Context, campaign: Campaign, index: int) -> Step | None:
    """Step ``index`` of an assignment: the ladder's, then the repeated reminders; None past the last."""
    steps = ladder(ctx, campaign)
    if index < len(steps):
        return steps[index]
    settings = ctx.org.awareness
    days = settings.escalate_after_days + (index - len(steps) + 1) * settings.repeat_every_days
    if not settings.repeat_every_days or days > settings.repeat_until_days:
        return None
    return Step("overdue", days)


def step_time(ctx: Context, campaign: Campaign, step: Step, zone: ZoneInfo, now: datetime) -> datetime:
    """When ``step`` is due: the ask at once, the others on their day at ``send_at`` in the person's
    zone; never in their quiet hours."""
    quiet = ctx.org.activities.quiet_hours
    if step.kind == "ask":
        return next_allowed(now, zone, quiet)
    day = campaign.due_at.astimezone(zone).date() + timedelta(days=step.days)
    return next_allowed(datetime.combine(day, ctx.org.activities.send_at, tzinfo=zone), zone, quiet)


def first_step_at(ctx: Context, session: Session, people: Sequence[str], now: datetime) -> dict[str, datetime]:
    """When each person is asked: now, or the end of their quiet hours (one query for all)."""
    zones = zones_for(session, ctx.org, people)
    quiet = ctx.org.activities.quiet_hours
    return {person: next_allowed(now, zones[person], quiet) for person in people}


def advance_assignments(ctx: Context) -> BatchReport:
    """Perform every step that is due now, 200 assignments per transaction (``kernel/batches.py``)."""
    now = ctx.clock()
    find = due_finder(CampaignAssignment.id, CampaignAssignment.next_action_at, now, CampaignAssignment.status == OPEN)
    return run_batches(ctx, "campaign reminders", find, lambda work, ids: _advance_batch(work, ids, now))


def _advance_batch(work: Work, ids: Sequence[int], now: datetime) -> list[int]:
    query = select(CampaignAssignment).where(
        CampaignAssignment.id.in_(ids), CampaignAssignment.status == OPEN, CampaignAssignment.next_action_at <= now
    )
    assignments = load_due(work.session, query)  # a person confirming right now goes first
    campaign_ids = {assignment.campaign_id for assignment in assignments}
    campaigns = {c.id: c for c in work.session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
    zones = zones_for(work.session, work.ctx.org, {assignment.person_id for assignment in assignments})
    overdue: Escalations = {}
    with work.session.no_autoflush:
        for assignment in assignments:
            _advance(work, campaigns[assignment.campaign_id], assignment, zones[assignment.person_id], now, overdue)
        for (campaign_id, manager), late in overdue.items():
            _escalate(work, campaigns[campaign_id], manager, late, zones, now)
    return [assignment.id for assignment in assignments]


def _escalate(
    work: Work,
    campaign: Campaign,
    manager: tuple[Recipient, str],
    late: list[tuple[CampaignAssignment, dict[str, object]]],
    zones: dict[str, ZoneInfo],
    now: datetime,
) -> None:
    """One note to a manager about everybody of theirs this batch escalates in one campaign, not one
    message per person (a campaign for the whole company reaches a manager's whole team at once)."""
    to, source = manager
    zone = zones[late[0][0].person_id]
    days = max((now.astimezone(zone).date() - campaign.due_at.astimezone(zone).date()).days, 1)
    message = messages.escalation(work.ctx.org, campaign, [a.person_id for a, _ in late], zone, days)
    key = f"awr:esc:{campaign.id}:{to}:{min(a.id for a, _ in late)}"
    if to.kind == "person":
        by = reach(work, to.id, message, key)
    else:  # a manager only the directory knows
        send_mail(work, to, message, key)
        by = "mail"
    for _, data in late:
        work.record(
            PROCESS_ID,
            "escalated",
            ("campaign", campaign.ref),
            data | {"manager": to.id, "manager_source": source, "by": by},
        )


Escalations = dict[tuple[int, tuple[Recipient, str]], list[tuple[CampaignAssignment, dict[str, object]]]]
"""(campaign id, (manager, where they came from)) -> the assignments to tell them about, with their record data."""


def _advance(
    work: Work,
    campaign: Campaign,
    assignment: CampaignAssignment,
    zone: ZoneInfo,
    now: datetime,
    overdue: Escalations,
) -> None:
    ctx = work.ctx
    index = assignment.step
    if index > 0:  # catch up: only the latest step that came due is performed
        while (following := step_of(ctx, campaign, index + 1)) and step_time(
            ctx, campaign, following, zone, now
        ) <= now:
            index += 1
    _perform(work, campaign, assignment, index, index - assignment.step, zone, now, overdue)
    if index == 0:
        assignment.invited_at = now
    position = index + 1
    assignment.step, assignment.next_action_at = position, None
    while (upcoming := step_of(ctx, campaign, position)) is not None:
        moment = step_time(ctx, campaign, upcoming, zone, now)
        if moment > now:
            assignment.step, assignment.next_action_at = position, moment
            break
        position += 1


def _perform(
    work: Work,
    campaign: Campaign,
    assignment: CampaignAssignment,
    index: int,
    skipped: int,
    zone: ZoneInfo,
    now: datetime,
    overdue: Escalations,
) -> None:
    ctx = work.ctx
    step = step_of(ctx, campaign, index)
    assert step is not None, "only existing steps are scheduled"
    key = f"awr:{assignment.id}:s{index}"
    data: dict[str, object] = {"person": assignment.person_id, "step": step.kind}
    if skipped:
        data["skipped_steps"] = skipped
    late = max((now.astimezone(zone).date() - campaign.due_at.astimezone(zone).date()).days, 0)
    if step.kind == "escalate":
        manager = manager_of(ctx, assignment.person_id)
        if manager is None:
            data["note"] = "nobody to escalate to (no manager known)"
            work.record(PROCESS_ID, "escalated", ("campaign", campaign.ref), data)
        else:
            overdue.setdefault((campaign.id, manager), []).append((assignment, data))
        return
    kind = "overdue" if step.kind == "ask" and campaign.due_at <= now else step.kind
    message = messages.ask(campaign, assignment.id, zone, kind=kind, days=max(late, 1))
    data["by"] = reach(work, assignment.person_id, message, key)
    work.record(PROCESS_ID, "asked" if step.kind == "ask" else "reminded", ("campaign", campaign.ref), data)

"""Asking, reminding and escalating: the ladder every open evidence request climbs.

Steps, in order: the ask; reminders some days before the due date (0 = the morning of the due date);
escalation rungs some days after it (owner, the owner's manager, the ISMS manager); finally the
request is listed for the next management review and nobody is nagged any more. Each request keeps
the index of its next step and when it is due (``next_action_at``, indexed), so a tick reads only
what is due now, however many requests are open.

Message steps go out at ``send_at`` in the recipient's timezone and never in their quiet hours. When
several steps came due while the bot was down or a request was snoozed, only the latest is performed
(the others are recorded as skipped): one message, not a burst.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.activity_settings import ActivitySettings, Rung
from storage.models.evidence import EvidenceRequest
from workflows.directory.service import manager_chain
from workflows.evidence.lifecycle import MANAGERS, OPEN
from workflows.evidence.messages import notice
from workflows.kernel.batches import due_finder, load_due, run_batches
from workflows.kernel.people import person_name, with_role
from workflows.kernel.quiet_hours import next_allowed
from workflows.kernel.recipients import Recipient
from workflows.kernel.timezones import zones_for
from workflows.kernel.ui import Message
from workflows.kernel.work import Context, Work
from workflows.outreach.mail import reach, send_mail

FROM_FILE, FROM_DIRECTORY = "organisation file", "directory"
"""Where an escalation's manager came from, as recorded (``manager_source``)."""


@dataclass(frozen=True)
class Step:
    kind: Literal["ask", "remind", "escalate", "review"]
    days: int
    """Relative to the due date: negative before it, positive after it."""
    to: Rung | None


def ladder(settings: ActivitySettings) -> tuple[Step, ...]:
    steps = [Step("ask", 0, "owner")]
    steps += [Step("remind", -days, "owner") for days in settings.remind_before_days]
    steps += [Step("escalate", rung.after_days, rung.to) for rung in settings.escalation]
    last = settings.escalation[-1].after_days if settings.escalation else 0
    steps.append(Step("review", last + settings.review_after_days, None))
    return tuple(steps)


def recipients(ctx: Context, request: EvidenceRequest, step: Step) -> list[Recipient]:
    """Who a step goes to: listed people, or (a manager only the directory knows) an e-mail address."""
    if step.to == "owner":
        return [Recipient.person(request.owner_id)]
    if step.to == "manager":
        found = manager_of(ctx, request.owner_id)
        return [found[0]] if found is not None else []
    if step.to == "isms_manager":
        return [Recipient.person(person) for person in with_role(ctx.org, *MANAGERS)]
    return []


def manager_of(ctx: Context, owner_id: str) -> tuple[Recipient, str] | None:
    """The owner's manager for an escalation and where it came from. With Microsoft 365 on, the
    directory's manager chain (``manager_chain``: the file's ``manager`` wins, the directory's is used
    for people the file gives none); without it, or when the chain is empty, the file's manager."""
    owner = ctx.org.person(owner_id)
    if owner is None:
        return None
    if ctx.directory is not None:
        chain = manager_chain(ctx, owner_id, depth=1)
        if chain:
            from_file = owner.manager is not None and chain[0] == Recipient.person(owner.manager)
            return chain[0], FROM_FILE if from_file else FROM_DIRECTORY
    return (Recipient.person(owner.manager), FROM_FILE) if owner.manager else None


def _people(recipients: list[Recipient]) -> list[str]:
    return [recipient.id for recipient in recipients if recipient.kind == "person"]


def _zone(ctx: Context, people: list[Recipient], zones: dict[str, ZoneInfo]) -> ZoneInfo:
    first = people[0] if people else None
    return zones.get(first.id, ctx.org.zone) if first is not None and first.kind == "person" else ctx.org.zone


def step_time(ctx: Context, request: EvidenceRequest, step: Step, zones: dict[str, ZoneInfo]) -> datetime:
    """When ``step`` is due for ``request``: its day at ``send_at`` in the recipient's zone, after any
    snooze, out of quiet hours. The review listing sends nothing, so quiet hours do not apply to it."""
    settings = ctx.org.activities
    zone = _zone(ctx, recipients(ctx, request, step), zones)
    day = request.due_at.astimezone(zone).date() + timedelta(days=step.days)
    nominal = datetime.combine(day, settings.send_at, tzinfo=zone)
    if request.snoozed_until is not None and request.snoozed_until > nominal:
        nominal = request.snoozed_until
    if step.kind == "review":
        return nominal.astimezone(UTC)
    return next_allowed(nominal, zone, settings.quiet_hours)


def zones_of(ctx: Context, session: Session, requests: list[EvidenceRequest]) -> dict[str, ZoneInfo]:
    """Everybody these requests' steps could reach, in one query."""
    people = {request.owner_id for request in requests}
    people |= {
        manager for request in requests for manager in _people(recipients(ctx, request, Step("escalate", 0, "manager")))
    }
    people |= set(with_role(ctx.org, *MANAGERS))
    return zones_for(session, ctx.org, people)


def reschedule(ctx: Context, session: Session, request: EvidenceRequest, now: datetime) -> None:
    """Recompute when the request's next step is due (after a snooze, delegation or reopening)."""
    zones = zones_of(ctx, session, [request])
    steps = ladder(ctx.org.activities)
    if request.status != OPEN:
        request.next_action_at = None
    elif request.step == 0:
        start = max(now, request.snoozed_until or now)
        request.next_action_at = next_allowed(start, zones[request.owner_id], ctx.org.activities.quiet_hours)
    elif request.step < len(steps):
        request.next_action_at = step_time(ctx, request, steps[request.step], zones)
    else:
        request.next_action_at = None


def schedule_after(
    ctx: Context, request: EvidenceRequest, index: int, now: datetime, zones: dict[str, ZoneInfo]
) -> None:
    """Point the request at the first step after ``index`` that is still ahead.

    Steps already in the past are passed over (the message just sent covers them), except the final
    listing for management review, which always happens.
    """
    steps = ladder(ctx.org.activities)
    for position in range(index + 1, len(steps)):
        moment = step_time(ctx, request, steps[position], zones)
        if moment > now or position == len(steps) - 1:
            request.step, request.next_action_at = position, max(moment, now)
            return
    request.step, request.next_action_at = len(steps), None


def advance_requests(ctx: Context) -> int:
    """Perform every step that is due now, in batches; returns how many steps were performed.

    One transaction per batch (``workflows/kernel/batches.py``); a request that fails is isolated,
    logged and left for the next tick, the others of its batch go on. A request whose next step is due
    at once (the final listing for management review after a catch-up) moves on in the same tick.
    """
    now = ctx.clock()
    find = due_finder(EvidenceRequest.id, EvidenceRequest.next_action_at, now, EvidenceRequest.status == OPEN)
    return run_batches(ctx, "evidence requests", find, lambda work, ids: _advance_batch(work, ids, now)).handled


def _advance_batch(work: Work, ids: Sequence[int], now: datetime) -> list[int]:
    query = select(EvidenceRequest).where(
        EvidenceRequest.id.in_(ids), EvidenceRequest.status == OPEN, EvidenceRequest.next_action_at <= now
    )
    requests = load_due(work.session, query)  # an owner answering right now goes first
    zones = zones_of(work.ctx, work.session, requests)
    # The batch only adds rows (messages, records) and updates the requests it loaded: flushing before
    # every query of the outbox and the records log would write each request once per message.
    with work.session.no_autoflush:
        for request in requests:
            _advance(work, request, now, zones)
    return [request.id for request in requests]


def _advance(work: Work, request: EvidenceRequest, now: datetime, zones: dict[str, ZoneInfo]) -> None:
    ctx = work.ctx
    steps = ladder(ctx.org.activities)
    index = request.step
    if index > 0:
        while index + 1 < len(steps) and step_time(ctx, request, steps[index + 1], zones) <= now:
            index += 1
    _perform(work, request, index, index - request.step if request.step > 0 else 0, now, zones)
    if index == 0:
        request.asked_at = now
    schedule_after(ctx, request, index, now, zones)


def _perform(
    work: Work, request: EvidenceRequest, index: int, skipped: int, now: datetime, zones: dict[str, ZoneInfo]
) -> None:
    ctx = work.ctx
    steps = ladder(ctx.org.activities)
    step = steps[index]
    manager = manager_of(ctx, request.owner_id) if step.to == "manager" else None
    people = [manager[0]] if manager is not None else recipients(ctx, request, step)
    base = f"evidence:{request.id}:r{request.round}:s{index}"
    data: dict[str, object] = {
        "step": step.kind,
        "to": [person.id for person in people],
        "due": request.due_at.astimezone(UTC).isoformat(),
        "period": request.period,
    }
    if skipped:
        data["skipped_steps"] = skipped
    if step.kind == "review":
        request.listed_for_review_at = now
        work.record(
            request.process,
            "listed-for-review",
            ("evidence", request.ref),
            {**data, "owner": request.owner_id, "reason": "still open after the last escalation"},
        )
        return
    by_mail = []
    for person in people:
        zone = zones.get(person.id, ctx.org.zone) if person.kind == "person" else ctx.org.zone
        message = _message(ctx, request, steps, index, zone, now)
        if person.kind == "person":
            how = reach(work, person.id, message, f"{base}:{person.id}")
        else:  # a manager only the directory knows
            send_mail(work, person, message, f"{base}:{person.id}")
            how = "mail"
        if how == "mail":
            by_mail.append(person.id)
    if by_mail:
        data["by_mail"] = by_mail
    if manager is not None:
        data["manager_source"] = manager[1]
    if step.kind == "escalate" and not people:
        data["note"] = (
            "nobody to escalate to (no manager in the organisation file or the directory)"
            if ctx.directory is not None and step.to == "manager"
            else "nobody to escalate to (no manager in the organisation file)"
        )
    action = {"ask": "asked", "remind": "reminded", "escalate": "escalated"}[step.kind]
    work.record(request.process, action, ("evidence", request.ref), data)


def _days_between(earlier: datetime, later: datetime, zone: ZoneInfo) -> int:
    return (later.astimezone(zone).date() - earlier.astimezone(zone).date()).days


def _message(
    ctx: Context,
    request: EvidenceRequest,
    steps: tuple[Step, ...],
    index: int,
    zone: ZoneInfo,
    now: datetime,
) -> Message:
    step = steps[index]
    if step.kind == "ask":
        return notice(ctx, request, "ask", zone, buttons=True, overdue=request.due_at <= now)
    if step.kind == "remind":
        return notice(ctx, request, "remind", zone, buttons=True, days=max(_days_between(now, request.due_at, zone), 0))
    overdue_days = max(_days_between(request.due_at, now, zone), 1)
    if step.to == "owner":
        return notice(
            ctx,
            request,
            "overdue",
            zone,
            buttons=True,
            days=overdue_days,
            next_rung=_next_rung(ctx, request, steps, index),
        )
    kind = "escalate_manager" if step.to == "manager" else "escalate_isms"
    return notice(ctx, request, kind, zone, days=overdue_days)


def _next_rung(ctx: Context, request: EvidenceRequest, steps: tuple[Step, ...], index: int) -> str:
    """Who hears about it next, said plainly to the owner."""
    for step in steps[index + 1 :]:
        if step.kind != "escalate" or step.to == "owner":
            continue
        people = recipients(ctx, request, step)
        if not people:
            continue
        if step.to == "manager":
            first = people[0]
            return f"your manager, {person_name(ctx.org, first.id) if first.kind == 'person' else first.id}"
        return "the ISMS manager"
    return ""

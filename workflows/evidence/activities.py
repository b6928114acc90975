"""The organisation's recurring activities, and turning each due period into one evidence request.

The programme is the organisation file's ``activities.programme`` resolved against the catalogue.
Each activity's next due date is kept in ``activity_schedule``. A tick creates the request for a due
date once the lead time before it has begun. If the bot was down across several due dates, only the
newest period whose window is open is asked for (coalesced, like APScheduler's ``coalesce``), and the
skipped periods are recorded, so a restart neither floods people nor silently loses a period. The
unique key (activity, period) makes a second scheduler, or a second tick, create nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.activity_settings import lead_days, resolve_owner
from storage.models.evidence import ActivitySchedule, EvidenceRequest
from workflows.evidence.lifecycle import EvidenceStatus
from workflows.kernel.actors import SYSTEM
from workflows.kernel.cadence import Cadence, make_cadence
from workflows.kernel.quiet_hours import next_allowed
from workflows.kernel.recipients import Recipient
from workflows.kernel.timezones import zone_for
from workflows.kernel.ui import Message
from workflows.kernel.work import Context, Work

MISSED_SHOWN = 50
"""Periods named in a periods-missed record (a frequent cron cadence can miss thousands in a long outage)."""


@dataclass(frozen=True)
class PlannedActivity:
    """One programme entry with everything resolved: who, how often, how early."""

    key: str
    process: str
    name: str
    evidence: str
    clause: str | None
    owner: str
    cadence: Cadence
    lead: timedelta
    signature: str
    """Cadence, timezone and due time: when the configuration changes them, the schedule restarts."""


def programme(ctx: Context) -> list[PlannedActivity]:
    """The organisation's recurring activities (validated at start-up by ``check_activities``)."""
    settings = ctx.org.activities
    people = {person.id: tuple(person.roles) for person in ctx.org.people}
    planned = []
    for entry in settings.programme:
        known = next((a for a in ctx.catalogue.get(entry.process).activities if a.id == entry.activity_id), None)
        cadence = entry.cadence or (known.cadence if known else "")
        owner_role = entry.owner or (known.owner_role if known else "")
        owner = resolve_owner(owner_role, entry.process, people, ctx.org.process_owners)
        assert owner is not None, "check_activities guarantees an owner"
        planned.append(
            PlannedActivity(
                key=entry.activity,
                process=entry.process,
                name=entry.name or (known.name if known else entry.activity_id),
                evidence=entry.evidence or (known.evidence if known else "text"),
                clause=entry.clause or (known.clause if known else None),
                owner=owner,
                cadence=make_cadence(cadence, ctx.org.zone, settings.due_time),
                lead=timedelta(days=lead_days(entry, cadence)),
                signature=f"{cadence} {ctx.org.timezone} {settings.due_time:%H:%M}"[:160],
            )
        )
    return planned


def create_due_requests(ctx: Context) -> int:
    """Create every request whose asking window has begun; returns how many were created."""
    now = ctx.clock()
    start = ctx.org.activities.start
    if start is not None and now < datetime.combine(start, time(0), tzinfo=ctx.org.zone):
        return 0  # the programme has not gone live yet
    plans = programme(ctx)
    with ctx.read() as session:
        schedule = {
            row.activity_key: (row.cadence, row.next_due_at) for row in session.scalars(select(ActivitySchedule))
        }
    created = 0
    for plan in plans:
        known = schedule.get(plan.key)
        if known is not None and known[0] == plan.signature and known[1] - plan.lead > now:
            continue  # the common case: nothing due yet, no transaction needed
        with ctx.work(SYSTEM) as work:
            created += _advance_activity(work, plan, now)
    return created


def _advance_activity(work: Work, plan: PlannedActivity, now: datetime) -> int:
    row = work.session.get(ActivitySchedule, plan.key, with_for_update=True)
    if row is None or row.cadence != plan.signature:
        first_due = plan.cadence.next_due_after(now)
        if row is None:
            row = ActivitySchedule(activity_key=plan.key, cadence=plan.signature, next_due_at=first_due, updated_at=now)
            work.session.add(row)
        else:
            row.cadence, row.next_due_at = plan.signature, first_due
    due, missed = row.next_due_at, []
    created = 0
    while due - plan.lead <= now:
        following = plan.cadence.next_due_after(due)
        if following - plan.lead <= now:
            missed.append(plan.cadence.period(due).label)  # superseded while nobody was running
        else:
            created += _create_request(work, plan, due)
        due = following
    row.next_due_at, row.updated_at = due, now
    if missed:
        work.record(
            plan.process,
            "periods-missed",
            ("activity", plan.key),
            {
                "periods": missed[-MISSED_SHOWN:],
                "count": len(missed),
                "reason": "the scheduler was not running when they fell due",
            },
        )
    return created


def _create_request(work: Work, plan: PlannedActivity, due: datetime) -> int:
    period = plan.cadence.period(due)
    created = request_evidence(
        work,
        key=plan.key,
        period=period.label,
        process=plan.process,
        title=plan.name,
        clause=plan.clause,
        evidence=plan.evidence,
        owner=plan.owner,
        covers=(period.start, period.end),
        due=due,
    )
    return 1 if created else 0


def request_evidence(
    work: Work,
    *,
    key: str,
    period: str,
    process: str,
    title: str,
    clause: str | None,
    evidence: str,
    owner: str,
    covers: tuple[date, date],
    due: datetime,
) -> bool:
    """Ask ``owner`` for evidence through the ladder (asked at the next tick, outside their quiet hours,
    then reminded and escalated); for the programme and for other processes that need evidence from a
    person (an internal audit's auditees). False when ``key`` and ``period`` already have a request."""
    zone = zone_for(work.session, work.ctx.org, owner)
    request = EvidenceRequest(
        activity_key=key,
        period=period,
        process=process,
        title=title[:200],
        clause=clause,
        evidence_kind=evidence,
        period_start=covers[0],
        period_end=covers[1],
        owner_id=owner,
        status=EvidenceStatus.OPEN,
        due_at=due,
        created_at=work.now,
        round=0,
        step=0,
        next_action_at=next_allowed(work.now, zone, work.ctx.org.activities.quiet_hours),
        delegations=0,
    )
    return _insert_once(work.session, request)


def _insert_once(session: Session, request: EvidenceRequest) -> bool:
    """Insert unless this activity and period already have a request (another tick got there first)."""
    exists = session.scalar(
        select(EvidenceRequest.id).where(
            EvidenceRequest.activity_key == request.activity_key, EvidenceRequest.period == request.period
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:
        return False
    return True


def add_request_once(session: Session, request: EvidenceRequest) -> bool:
    """Insert a request another process builds (POL's policy review) unless its activity key and period
    already have one; True when this call created it."""
    return _insert_once(session, request)


def withdraw_requests(work: Work, process: str, period: str, reason: str) -> list[int]:
    """Close the requests ``process`` asked for ``period`` that are still waiting for their owner (an
    internal audit cancelled): they end as not applicable, nobody is reminded or escalated any more,
    each owner is told once and each closing is a record. Returns the closed requests' ids."""
    waiting = work.session.scalars(
        select(EvidenceRequest)
        .where(
            EvidenceRequest.process == process,
            EvidenceRequest.period == period,
            EvidenceRequest.status.in_((EvidenceStatus.OPEN, EvidenceStatus.SUBMITTED)),
        )
        .order_by(EvidenceRequest.id)
        .with_for_update()
    ).all()
    for request in waiting:
        request.status, request.closed_at, request.next_action_at = EvidenceStatus.NOT_APPLICABLE, work.now, None
        work.record("EV", "withdrawn", ("evidence", f"EV-{request.id}"), {"owner": request.owner_id, "reason": reason})
        work.notify(
            Recipient.person(request.owner_id),
            Message(text=f"Evidence request EV-{request.id} is withdrawn: {request.title}", body=reason),
            f"ev:{request.id}:withdrawn",
        )
    return [request.id for request in waiting]

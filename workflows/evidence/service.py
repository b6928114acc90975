"""Evidence requests, read: find one, the owner's list, the overview of every process, the App Home
items, and what the management review (GOV) should list. Nothing here writes.

Due dates are shown in the reader's own timezone (the overview's in the organisation's, since it
lists many owners).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from storage.models.evidence import EvidenceRequest, EvidenceSubmission
from workflows.evidence.lifecycle import (
    IN_PROGRESS,
    MANAGERS,
    NOT_FOUND,
    OPEN,
    READERS,
    SUBMITTED,
    load_request,
)
from workflows.evidence.messages import owner_buttons, review_buttons
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, clip, more_value, page_message, window
from workflows.kernel.people import person_name, when
from workflows.kernel.timezones import zone_for
from workflows.kernel.ui import Button, Message, Outcome
from workflows.kernel.work import Context


def find_request(ctx: Context, value: str) -> EvidenceRequest:
    """The request a button, form or reference names; refused when there is none."""
    with ctx.read() as session:
        request = load_request(session, value, False)
    if request is None:
        raise Refused(NOT_FOUND)
    return request


def find_submission(ctx: Context, request: EvidenceRequest, value: str) -> EvidenceSubmission:
    """The submission a review button or form names (``request:submission``), if it is this request's."""
    _, _, tail = value.partition(":")
    with ctx.read() as session:
        submission = session.get(EvidenceSubmission, int(tail)) if tail.isdigit() else None
    if submission is None or submission.request_id != request.id:
        raise Refused(NOT_FOUND)
    return submission


MORE = "evidence.more"
MINE, ALL = "mine", "all"


def _mine_query(actor: Actor) -> Select[EvidenceRequest]:
    return (
        select(EvidenceRequest)
        .where(EvidenceRequest.owner_id == actor.id, EvidenceRequest.status.in_(IN_PROGRESS))
        .order_by(EvidenceRequest.due_at, EvidenceRequest.id)
    )


def describe(request: EvidenceRequest, zone: ZoneInfo, now: datetime) -> str:
    state = "waiting for review" if request.status == SUBMITTED else ("OVERDUE" if request.due_at <= now else "open")
    rejections = f"{request.round} rejection{'s' if request.round != 1 else ''}"
    extra = f", reopened after {rejections}" if request.round else ""
    return (
        f"{request.ref} {request.title} ({request.process}, {request.period}): due {when(request.due_at, zone)}, "
        f"{state}{extra}"
    )


def _my_counts(session: Session, actor: Actor) -> dict[str, int]:
    rows = session.execute(
        select(EvidenceRequest.status, func.count())
        .where(EvidenceRequest.owner_id == actor.id, EvidenceRequest.status.in_(IN_PROGRESS))
        .group_by(EvidenceRequest.status)
    )
    return {str(status): count for status, count in rows}


def my_requests(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms evidence``: the person's open requests with their due dates, one page at a time."""
    with ctx.read() as session:
        counts = _my_counts(session, actor)
        page = window(sum(counts.values()), offset)
        requests = list(session.scalars(_mine_query(actor).offset(page.offset).limit(page.size)))
        zone = zone_for(session, ctx.org, actor.id) if actor.listed else ctx.org.zone
    if not page.total:
        return Outcome.say("You have no open evidence requests.")
    now = ctx.clock()
    waiting = counts.get(OPEN, 0)
    return Outcome(
        reply=page_message(
            title=f"Your evidence requests: {waiting:,} to answer, {page.total - waiting:,} waiting for review",
            lines=[describe(r, zone, now) for r in requests],
            page=page,
            more=MORE,
            name=MINE,
            footer="Answer with the buttons in my messages or in the App Home.",
        )
    )


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """App Home sections: the first open requests with their buttons (and a "More" button when there
    are more); for ISMS managers, the first submissions awaiting review and how many there are."""
    with ctx.read() as session:
        counts = _my_counts(session, actor)
        requests = list(session.scalars(_mine_query(actor).limit(HOME_ITEMS)))
        zone = zone_for(session, ctx.org, actor.id) if actor.listed else ctx.org.zone
        reviewing = actor.has(*MANAGERS)
        to_review = (session.scalar(_to_review_count()) or 0) if reviewing else 0
        waiting = session.execute(_to_review().limit(HOME_ITEMS)).all() if reviewing and to_review else []
    now = ctx.clock()
    items = [
        Message(text=describe(r, zone, now), buttons=owner_buttons(ctx, r) if r.status == OPEN else ())
        for r in requests
    ]
    total = sum(counts.values())
    if total > len(requests):
        items.append(
            Message(
                text=f"You have {total:,} evidence requests in progress; these are the first {len(requests)}.",
                buttons=(Button(MORE, "More", more_value(MINE, 0)),),
            )
        )
    items += [
        Message(
            text=f"To review: {r.ref} {clip(r.title)} from {person_name(ctx.org, r.owner_id)}",
            buttons=review_buttons(r, sid),
        )
        for r, sid in waiting
    ]
    if to_review > len(waiting):
        items.append(
            Message(text=f"{to_review:,} submissions wait for your review; these are the oldest {len(waiting)}.")
        )
    return items


def _to_review() -> Select[EvidenceRequest, int]:
    return (
        select(EvidenceRequest, EvidenceSubmission.id)
        .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .where(EvidenceRequest.status == SUBMITTED, EvidenceSubmission.decision.is_(None))
        .order_by(EvidenceSubmission.id)
    )


def _to_review_count() -> Select[int]:
    return (
        select(func.count())
        .select_from(EvidenceRequest)
        .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .where(EvidenceRequest.status == SUBMITTED, EvidenceSubmission.decision.is_(None))
    )


STATES = ("open", "overdue", "rejected", "waiting for review", "for management review")


def _state_of(now: datetime) -> ColumnElement[str]:
    """The overview's state of a request, in SQL, so the counts need no rows in Python."""
    return case(
        (EvidenceRequest.status == SUBMITTED, "waiting for review"),
        (EvidenceRequest.listed_for_review_at.is_not(None), "for management review"),
        (EvidenceRequest.due_at <= now, "overdue"),
        (EvidenceRequest.round > 0, "rejected"),
        else_="open",
    )


def overview(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms evidence all``: counts by state and by process first, then one page of requests,
    grouped by process, with a "More" button."""
    require(ctx, actor, READERS, process="PERF", what="the evidence overview")
    now = ctx.clock()
    in_progress = EvidenceRequest.status.in_(IN_PROGRESS)
    with ctx.read() as session:
        state_of = _state_of(now)
        by_state = {
            str(label): count
            for label, count in session.execute(select(state_of, func.count()).where(in_progress).group_by(state_of))
        }
        page = window(sum(by_state.values()), offset)
        if not page.total:
            return Outcome.say("No evidence requests are open.")
        by_process = session.execute(
            select(EvidenceRequest.process, func.count())
            .where(in_progress)
            .group_by(EvidenceRequest.process)
            .order_by(EvidenceRequest.process)
        ).all()
        requests = list(
            session.scalars(
                select(EvidenceRequest)
                .where(in_progress)
                .order_by(EvidenceRequest.process, EvidenceRequest.due_at, EvidenceRequest.id)
                .offset(page.offset)
                .limit(page.size)
            )
        )
    lines: list[str] = []
    group = None
    for request in requests:
        if request.process != group:
            group = request.process
            lines.append(f"{group}:")
        state = _state(request, now)
        lines.append(
            f"  {request.ref} {clip(request.title, 120)} ({request.period}), {person_name(ctx.org, request.owner_id)}, "
            f"due {when(request.due_at, ctx.org.zone)}: {state}"
            + (f", rejected {request.round}x" if request.round else "")
        )
    return Outcome(
        reply=page_message(
            title=f"{page.total:,} evidence requests in progress",
            counts=tuple((label.capitalize(), f"{by_state.get(label, 0):,}") for label in STATES),
            note="By process: " + ", ".join(f"{process} {count:,}" for process, count in by_process),
            lines=lines,
            page=page,
            items=len(requests),
            more=MORE,
            name=ALL,
        )
    )


def _state(request: EvidenceRequest, now: datetime) -> str:
    if request.status == SUBMITTED:
        return "waiting for review"
    if request.listed_for_review_at is not None:
        return "for management review"
    if request.due_at <= now:
        return "overdue"
    return "rejected" if request.round else "open"


@dataclass(frozen=True)
class ReviewItem:
    """A request still open after the whole escalation ladder: an input to the management review."""

    ref: str
    process: str
    title: str
    period: str
    owner_id: str
    due_at: datetime
    listed_at: datetime


def items_for_management_review(ctx: Context) -> list[ReviewItem]:
    """What the management review pack (GOV) should list; stays listed until it is answered."""
    with ctx.read() as session:
        rows = session.scalars(
            select(EvidenceRequest)
            .where(EvidenceRequest.status == OPEN, EvidenceRequest.listed_for_review_at.is_not(None))
            .order_by(EvidenceRequest.listed_for_review_at)
        )
        return [
            ReviewItem(r.ref, r.process, r.title, r.period, r.owner_id, r.due_at, r.listed_for_review_at)
            for r in rows
            if r.listed_for_review_at is not None
        ]

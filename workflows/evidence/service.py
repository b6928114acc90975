"""Evidence requests, read: find one, the owner's list, the overview of every process, the App Home
items, and what the management review (GOV) should list. Nothing here writes.

Due dates are shown in the reader's own timezone (the overview's in the organisation's, since it
lists many owners).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

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
from workflows.kernel.people import person_name, when
from workflows.kernel.timezones import zone_for
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

HOME_LIMIT = 10


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


def _mine(ctx: Context, actor: Actor) -> tuple[list[EvidenceRequest], ZoneInfo]:
    with ctx.read() as session:
        requests = list(
            session.scalars(
                select(EvidenceRequest)
                .where(EvidenceRequest.owner_id == actor.id, EvidenceRequest.status.in_(IN_PROGRESS))
                .order_by(EvidenceRequest.due_at, EvidenceRequest.id)
            )
        )
        zone = zone_for(session, ctx.org, actor.id) if actor.listed else ctx.org.zone
    return requests, zone


def describe(request: EvidenceRequest, zone: ZoneInfo, now: datetime) -> str:
    state = "waiting for review" if request.status == SUBMITTED else ("OVERDUE" if request.due_at <= now else "open")
    rejections = f"{request.round} rejection{'s' if request.round != 1 else ''}"
    extra = f", reopened after {rejections}" if request.round else ""
    return (
        f"{request.ref} {request.title} ({request.process}, {request.period}): due {when(request.due_at, zone)}, "
        f"{state}{extra}"
    )


def my_requests(ctx: Context, actor: Actor) -> Outcome:
    """``/isms evidence``: the person's open requests with their due dates."""
    requests, zone = _mine(ctx, actor)
    if not requests:
        return Outcome.say("You have no open evidence requests.")
    now = ctx.clock()
    waiting = sum(1 for r in requests if r.status == OPEN)
    return Outcome.say(
        f"Your evidence requests: {waiting} to answer, {len(requests) - waiting} waiting for review",
        body="\n".join(describe(r, zone, now) for r in requests),
        footer="Answer with the buttons in my messages or in the App Home.",
    )


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """App Home sections: open requests with their buttons; for ISMS managers, what awaits review."""
    requests, zone = _mine(ctx, actor)
    now = ctx.clock()
    items = [
        Message(text=describe(r, zone, now), buttons=owner_buttons(ctx, r) if r.status == OPEN else ())
        for r in requests[:HOME_LIMIT]
    ]
    if actor.has(*MANAGERS):
        with ctx.read() as session:
            waiting = session.execute(
                select(EvidenceRequest, EvidenceSubmission.id)
                .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
                .where(EvidenceRequest.status == SUBMITTED, EvidenceSubmission.decision.is_(None))
                .order_by(EvidenceSubmission.id)
                .limit(HOME_LIMIT)
            ).all()
        items += [
            Message(
                text=f"To review: {r.ref} {r.title} from {person_name(ctx.org, r.owner_id)}",
                buttons=review_buttons(r, sid),
            )
            for r, sid in waiting
        ]
    return items


def overview(ctx: Context, actor: Actor) -> Outcome:
    """``/isms evidence all``: open, overdue, rejected, waiting for review and listed, by process."""
    require(ctx, actor, READERS, process="PERF", what="the evidence overview")
    now = ctx.clock()
    with ctx.read() as session:
        requests = list(
            session.scalars(
                select(EvidenceRequest)
                .where(EvidenceRequest.status.in_(IN_PROGRESS))
                .order_by(EvidenceRequest.process, EvidenceRequest.due_at)
            )
        )
    if not requests:
        return Outcome.say("No evidence requests are open.")
    by_process: dict[str, list[str]] = defaultdict(list)
    counts = {"open": 0, "overdue": 0, "rejected": 0, "waiting for review": 0, "for management review": 0}
    for request in requests:
        state = _state(request, now)
        counts[state] += 1
        by_process[request.process].append(
            f"  {request.ref} {request.title} ({request.period}), {person_name(ctx.org, request.owner_id)}, "
            f"due {when(request.due_at, ctx.org.zone)}: {state}"
            + (f", rejected {request.round}x" if request.round else "")
        )
    body = "\n".join(f"{process}:\n" + "\n".join(lines) for process, lines in by_process.items())
    return Outcome.say(
        f"{len(requests)} evidence requests in progress",
        body=body,
        fields=tuple((label.capitalize(), str(count)) for label, count in counts.items()),
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

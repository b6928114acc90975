"""Evidence requests, the ISMS manager's side: accept or reject what came in, see where every
process stands, and hand what stayed open after the whole ladder to the management review (GOV).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.evidence import EvidenceRequest, EvidenceSubmission
from workflows.evidence.flows import (
    ACCEPTED,
    ALREADY,
    NOT_APPLICABLE,
    NOT_FOUND,
    OPEN,
    SUBMITTED,
    answered,
    iso,
    lock_request,
    read_request,
    zone_of,
)
from workflows.evidence.forms import parse_date, review_form
from workflows.evidence.ladder import schedule_after, zones_of
from workflows.evidence.messages import notice, person_name, when
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context, Work

REVIEWERS = frozenset({"isms_manager"})
READERS = frozenset({"isms_manager", "auditor"})


def _submission_id(value: str) -> int | None:
    _, _, tail = value.partition(":")
    return int(tail) if tail.isdigit() else None


def open_review(ctx: Context, actor: Actor, value: str, accept: bool) -> Outcome:
    """The Accept / Reject buttons: the form for a comment, unless somebody decided already."""
    request = read_request(ctx, value)
    submission_id = _submission_id(value)
    if request is None or submission_id is None:
        return NOT_FOUND
    require(
        ctx, actor, REVIEWERS, process=request.process, what="reviewing evidence", subject=("evidence", request.ref)
    )
    with ctx.read() as session:
        decided = _decided(ctx, session, request, submission_id)
    if decided is not None:
        return decided
    return Outcome(form=review_form(ctx, request, submission_id, accept))


def _decided(ctx: Context, session: Session, request: EvidenceRequest, submission_id: int) -> Outcome | None:
    """Why this submission cannot be decided now (decided already, or not the current one), if so."""
    submission = session.get(EvidenceSubmission, submission_id)
    if submission is None or submission.request_id != request.id:
        return NOT_FOUND
    if submission.decision is None and request.status == SUBMITTED:
        return None
    if submission.decision is None:
        return answered(ctx, session, request)
    reviewer = person_name(ctx, submission.decided_by or "")
    return Outcome.say(
        f"{request.ref} was already {submission.decision} by {reviewer} "
        f"on {when(submission.decided_at or submission.submitted_at, ctx.org.zone)}."
    )


def decide(ctx: Context, actor: Actor, metadata: str, values: dict[str, str], key: str, accept: bool) -> Outcome:
    """Accept (closes the request) or reject (reopens it with a new due date and tells the owner why)."""
    request = read_request(ctx, metadata)
    submission_id = _submission_id(metadata)
    if request is None or submission_id is None:
        return NOT_FOUND
    require(
        ctx, actor, REVIEWERS, process=request.process, what="reviewing evidence", subject=("evidence", request.ref)
    )
    comment = values.get("comment", "").strip()
    with ctx.work(actor) as work:
        if not work.once(key):
            return ALREADY
        request = lock_request(work.session, request.id)
        submission = work.session.get(EvidenceSubmission, submission_id, with_for_update=True, populate_existing=True)
        decided = _decided(ctx, work.session, request, submission_id)
        if decided is not None or submission is None:
            return decided or NOT_FOUND
        submission.decision = "accepted" if accept else "rejected"
        submission.decided_by, submission.decided_at, submission.comment = actor.id, work.now, comment or None
        zone = zone_of(work.session, ctx, request.owner_id)
        data = {"submission": submission.id, "comment": comment or None, "owner": request.owner_id}
        if accept:
            request.status = NOT_APPLICABLE if submission.not_applicable else ACCEPTED
            request.closed_at, request.next_action_at = work.now, None
            work.record(request.process, "accepted", ("evidence", request.ref), data)
            message = notice(
                ctx,
                request,
                "accepted",
                zone,
                comment=comment,
                reviewer=actor.name,
                not_applicable=submission.not_applicable,
            )
        else:
            _reopen(ctx, work, request, values)
            work.record(
                request.process, "rejected", ("evidence", request.ref), {**data, "new_due": iso(request.due_at)}
            )
            message = notice(
                ctx,
                request,
                "rejected",
                zone,
                buttons=True,
                comment=comment,
                reviewer=actor.name,
                not_applicable=submission.not_applicable,
            )
        work.notify(Recipient.person(request.owner_id), message, f"evidence:{request.id}:sub{submission.id}:decision")
    verdict = "accepted" if accept else "rejected; the owner has been told why and asked again"
    return Outcome.say(f"{request.ref} ({request.title}) {verdict}.")


def _reopen(ctx: Context, work: Work, request: EvidenceRequest, values: dict[str, str]) -> None:
    due_day = parse_date(values.get("due", ""))
    assert due_day is not None, "validated by validate_rejection"
    request.due_at = datetime.combine(due_day, ctx.org.activities.due_time, tzinfo=ctx.org.zone)
    request.status, request.round = OPEN, request.round + 1
    request.snoozed_until = request.listed_for_review_at = None
    request.asked_at = work.now  # the rejection message is the new ask
    schedule_after(ctx, request, 0, work.now, zones_of(ctx, work.session, [request]))


# -- the overview -----------------------------------------------------------------------------------


def overview(ctx: Context, actor: Actor) -> Outcome:
    """``/isms evidence all``: open, overdue, rejected, waiting for review and listed, by process."""
    require(ctx, actor, READERS, process="PERF", what="the evidence overview")
    now = ctx.clock()
    with ctx.read() as session:
        requests = list(
            session.scalars(
                select(EvidenceRequest)
                .where(EvidenceRequest.status.in_((OPEN, SUBMITTED)))
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
            f"  {request.ref} {request.title} ({request.period}), {person_name(ctx, request.owner_id)}, "
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

"""Evidence requests, read: find one, the owner's list, the overview of every process, the App Home
items, and what the management review (GOV) should list. Nothing here writes.

Due dates are shown in the reader's own timezone (the overview's in the organisation's, since it
lists many owners).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from storage.models.evidence import EvidenceFile, EvidenceRequest, EvidenceSubmission
from workflows.evidence.lifecycle import (
    IN_PROGRESS,
    MANAGERS,
    NOT_FOUND,
    OPEN,
    READERS,
    SUBMITTED,
    Decision,
    EvidenceStatus,
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


# ------------------------------------------------------------------------------ status, metrics, reports
# Aggregates for process COM (status, digests, reports) and PERF (metrics), grouped in SQL.


@dataclass(frozen=True)
class Health:
    """One process's evidence in a period and now: requests due in the period, done, overdue and on
    time of those, and what is in progress overall with the oldest due date."""

    due: int = 0
    done: int = 0
    overdue: int = 0
    on_time: int = 0
    answered: int = 0
    in_progress: int = 0
    oldest_due: datetime | None = None


DONE = (EvidenceStatus.ACCEPTED, EvidenceStatus.NOT_APPLICABLE)


def _first_answer_on_time() -> ColumnElement[bool]:
    """The request was first answered at or before its due date (read from the request's own row, so
    the period's counts come from one covering index: ``ix_evidence_requests_period``)."""
    return EvidenceRequest.first_answer_at <= EvidenceRequest.due_at


def _answered() -> ColumnElement[bool]:
    return EvidenceRequest.first_answer_at.is_not(None)


def _counted(now: datetime) -> ColumnElement[bool]:
    """In the on-time rate: answered, or due and not withdrawn unanswered (an internal audit cancelled
    closes its open requests as not applicable with no answer; their owners were not late)."""
    withdrawn = (EvidenceRequest.status == EvidenceStatus.NOT_APPLICABLE) & EvidenceRequest.first_answer_at.is_(None)
    return _answered() | ((EvidenceRequest.due_at <= now) & ~withdrawn)


def health(
    session: Session, now: datetime, since: datetime, until: datetime, *, owner: str | None = None
) -> dict[str, Health]:
    """Per process id: two grouped queries (the period's requests; everything in progress)."""
    period: list[ColumnElement[bool]] = [EvidenceRequest.due_at >= since, EvidenceRequest.due_at < until]
    progress: list[ColumnElement[bool]] = []
    if owner is not None:
        period.append(EvidenceRequest.owner_id == owner)
        progress.append(EvidenceRequest.owner_id == owner)
    found: dict[str, dict[str, Any]] = {}
    for process, due, done, overdue, on_time, answered in session.execute(
        select(
            EvidenceRequest.process,
            func.count(),
            func.sum(case((EvidenceRequest.status.in_(DONE), 1), else_=0)),
            func.sum(case(((EvidenceRequest.status == OPEN) & (EvidenceRequest.due_at <= now), 1), else_=0)),
            func.sum(case((_first_answer_on_time(), 1), else_=0)),
            func.sum(case((_counted(now), 1), else_=0)),
        )
        .where(*period)
        .group_by(EvidenceRequest.process)
    ):
        found[process] = {
            "due": int(due),
            "done": int(done or 0),
            "overdue": int(overdue or 0),
            "on_time": int(on_time or 0),
            "answered": int(answered or 0),
        }
    # One query per state, so each reads its rows in (status, process, due_at) index order: with
    # ``status IN (...)`` SQLite preferred walking every request in (process, due_at) order.
    for status in IN_PROGRESS:
        for process, count, oldest in session.execute(
            select(EvidenceRequest.process, func.count(), func.min(EvidenceRequest.due_at))
            .where(EvidenceRequest.status == status, *progress)
            .group_by(EvidenceRequest.process)
        ):
            values = found.setdefault(process, {})
            values["in_progress"] = values.get("in_progress", 0) + int(count)
            earlier = values.get("oldest_due")
            first = _aware(oldest)
            values["oldest_due"] = first if earlier is None or (first is not None and first < earlier) else earlier
    return {process: Health(**values) for process, values in found.items()}


def on_time_by_owner(
    session: Session, now: datetime, since: datetime, until: datetime
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per ``(process, owner)``: (requests due in the period that are answered or already due, of
    them answered on time). The on-time rate's denominator leaves out what is not due yet."""
    counted = _counted(now)
    rows = session.execute(
        select(
            EvidenceRequest.process,
            EvidenceRequest.owner_id,
            func.sum(case((counted, 1), else_=0)),
            func.sum(case((_first_answer_on_time(), 1), else_=0)),
        )
        .where(EvidenceRequest.due_at >= since, EvidenceRequest.due_at < until)
        .group_by(EvidenceRequest.process, EvidenceRequest.owner_id)
    )
    return {(process, owner): (int(total or 0), int(on_time or 0)) for process, owner, total, on_time in rows}


def waiting_for_review(session: Session) -> int:
    return session.scalar(_to_review_count()) or 0


def manual_measurements(
    session: Session, since: datetime, until: datetime
) -> list[tuple[str, str, str, float, datetime]]:
    """Accepted answers of the number kind for requests due in the period: ``(activity key, process,
    title, number, decided at)``, newest decision last (manual metrics)."""
    rows = session.execute(
        select(
            EvidenceRequest.activity_key,
            EvidenceRequest.process,
            EvidenceRequest.title,
            EvidenceSubmission.number,
            EvidenceSubmission.decided_at,
        )
        .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .where(
            EvidenceRequest.evidence_kind == "number",
            EvidenceRequest.due_at >= since,
            EvidenceRequest.due_at < until,
            EvidenceSubmission.decision == Decision.ACCEPTED,
            EvidenceSubmission.number.is_not(None),
        )
        .order_by(EvidenceSubmission.decided_at, EvidenceSubmission.id)
    )
    return [
        (key, process, title, float(number), decided)
        for key, process, title, number, decided in rows
        if number is not None and decided is not None
    ]


REGISTER_COLUMNS = (
    "ref",
    "process",
    "activity",
    "title",
    "period",
    "owner",
    "status",
    "due_at",
    "round",
    "submitted_at",
    "submitted_by",
    "not_applicable",
    "decision",
    "decided_by",
    "file",
    "file_size",
    "file_sha256",
)


def register(
    session: Session, since: datetime, until: datetime, *, owner: str | None = None
) -> Iterator[dict[str, str]]:
    """Evidence per period with hashes: one row per request, submission and file (a request without
    a submission, or a submission without files, is one row), for requests due in ``[since, until)``."""
    query = (
        select(EvidenceRequest, EvidenceSubmission, EvidenceFile)
        .outerjoin(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .outerjoin(EvidenceFile, EvidenceFile.submission_id == EvidenceSubmission.id)
        .where(EvidenceRequest.due_at >= since, EvidenceRequest.due_at < until)
    )
    if owner is not None:
        query = query.where(EvidenceRequest.owner_id == owner)
    query = query.order_by(EvidenceRequest.id, EvidenceSubmission.id, EvidenceFile.id).execution_options(yield_per=1000)
    for request, submission, file in session.execute(query):
        yield {
            "ref": request.ref,
            "process": request.process,
            "activity": request.activity_key,
            "title": request.title,
            "period": request.period,
            "owner": request.owner_id,
            "status": request.status,
            "due_at": request.due_at.isoformat(),
            "round": str(submission.round) if submission else "",
            "submitted_at": submission.submitted_at.isoformat() if submission else "",
            "submitted_by": submission.submitted_by if submission else "",
            "not_applicable": ("yes" if submission.not_applicable else "no") if submission else "",
            "decision": (submission.decision or "") if submission else "",
            "decided_by": (submission.decided_by or "") if submission else "",
            "file": (file.name or file.slack_file_id) if file else "",
            "file_size": str(file.size) if file and file.size is not None else "",
            "file_sha256": (file.sha256 or "") if file else "",
        }


def answers(session: Session, since: datetime, until: datetime) -> Iterator[tuple[str, int, str]]:
    """``(request ref, round, text)`` of every answer held as text, link or number, for requests due in
    ``[since, until)``: the evidence content the bot itself holds (files stay in Slack; their hashes
    are in the register)."""
    query = (
        select(EvidenceRequest.id, EvidenceSubmission)
        .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
        .where(EvidenceRequest.due_at >= since, EvidenceRequest.due_at < until)
        .order_by(EvidenceRequest.id, EvidenceSubmission.id)
        .execution_options(yield_per=1000)
    )
    for request_id, submission in session.execute(query):
        parts = [
            f"submitted_at: {submission.submitted_at.isoformat()}",
            f"submitted_by: {submission.submitted_by}",
            f"not_applicable: {'yes' if submission.not_applicable else 'no'}",
        ]
        if submission.link:
            parts.append(f"link: {submission.link}")
        if submission.number is not None:
            parts.append(f"number: {submission.number}")
        if submission.decision:
            parts.append(f"decision: {submission.decision} by {submission.decided_by} ({submission.comment or ''})")
        parts += ["", submission.text or ""]
        yield f"EV-{request_id}", submission.round, "\n".join(parts).rstrip() + "\n"


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

"""The life of an evidence request: its states, the moves between them, who may move it, and how the
step runner finds one and says why a step cannot run on it now.

    open --submit / not applicable--> submitted --accept--> accepted | not_applicable
                                      submitted --reject--> open (a new round with a new due date)

Delegating and snoozing keep a request open; accepted and not applicable are final.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.evidence import EvidenceRequest, EvidenceSubmission
from workflows.kernel.access import Allowed
from workflows.kernel.people import person_name, when
from workflows.kernel.steps import Items, Lifecycle
from workflows.kernel.work import Context


class EvidenceStatus(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NOT_APPLICABLE = "not_applicable"


class Decision(StrEnum):
    """The ISMS manager's decision on one submission."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


OPEN, SUBMITTED = EvidenceStatus.OPEN, EvidenceStatus.SUBMITTED
LIFECYCLE = Lifecycle[EvidenceStatus](
    {
        OPEN: frozenset({SUBMITTED}),
        SUBMITTED: frozenset({EvidenceStatus.ACCEPTED, EvidenceStatus.NOT_APPLICABLE, OPEN}),
    }
)
IN_PROGRESS = frozenset({OPEN, SUBMITTED})
"""Requests somebody still has to act on: the owner (open) or the ISMS manager (submitted)."""
ANSWERABLE = frozenset({OPEN})
"""Where the owner's steps run, including those that keep the state (delegate, snooze)."""
REVIEWABLE = frozenset({SUBMITTED})

MANAGERS = frozenset({Role.ISMS_MANAGER})
"""Answer any request on its owner's behalf, and review what owners hand in."""
READERS = frozenset({Role.ISMS_MANAGER, Role.AUDITOR})
"""See the requests of every process."""

NOT_FOUND = "I cannot find that evidence request. It may belong to another ISMS."


def answerers(request: EvidenceRequest) -> Allowed:
    """Who may answer a request: its owner, or an ISMS manager on their behalf."""
    return Allowed(MANAGERS, owner=request.owner_id)


def request_id(value: str) -> int | None:
    """The request in a reference (``EV-1``), a button value (``1``) or a review's (``1:5``)."""
    head = value.strip().split(":", 1)[0].removeprefix("EV-")
    return int(head) if head.isdigit() else None


def load_request(session: Session, ref: str, lock: bool) -> EvidenceRequest | None:
    found = request_id(ref)
    if found is None:
        return None
    if lock:
        return session.get(EvidenceRequest, found, with_for_update=True, populate_existing=True)
    return session.get(EvidenceRequest, found)


def items(ctx: Context, process: str, *, reviewing: bool = False) -> Items[EvidenceRequest]:
    """The step runner's view of requests of ``process`` (a refusal is recorded under the process the
    request serves). What stops a step is worded for who takes it: the owner hears who answered and
    what became of it, the reviewer who decided already."""
    answers = Items[EvidenceRequest](
        kind="evidence",
        process=process,
        load=load_request,
        lifecycle=LIFECYCLE,
        state_field="status",
        missing=lambda ref: NOT_FOUND,
        not_now=lambda session, request: answered(ctx, session, request),
    )
    if not reviewing:
        return answers
    return replace(answers, not_now=lambda session, request: _last_decision(ctx, session, request))


_WHERE_IT_STANDS: dict[str, str] = {
    SUBMITTED: "it is waiting for the ISMS manager's review",
    EvidenceStatus.ACCEPTED: "the ISMS manager accepted it",
    EvidenceStatus.NOT_APPLICABLE: "the ISMS manager accepted that it does not apply",
}


def answered(ctx: Context, session: Session, request: EvidenceRequest) -> str:
    """Why a request cannot be answered any more: who answered it, when, and where it stands.

    It reads in the caller's session: a second session inside a unit of work would wait for the
    first one's write lock on SQLite.
    """
    last = _last_submission(session, request, decided=False)
    who = person_name(ctx.org, last.submitted_by) if last else "somebody"
    on = when(last.submitted_at, ctx.org.zone) if last else "earlier"
    state = _WHERE_IT_STANDS.get(request.status, request.status)
    return f"{request.ref} ({request.title}) was already answered by {who} on {on}; {state}. Nothing more to do here."


def decided(ctx: Context, request: EvidenceRequest, submission: EvidenceSubmission) -> str:
    """Why a submission cannot be decided any more: who decided it, and when."""
    moment = submission.decided_at or submission.submitted_at
    return (
        f"{request.ref} was already {submission.decision} by {person_name(ctx.org, submission.decided_by)} "
        f"on {when(moment, ctx.org.zone)}."
    )


def _last_decision(ctx: Context, session: Session, request: EvidenceRequest) -> str:
    last = _last_submission(session, request, decided=True)
    return decided(ctx, request, last) if last else answered(ctx, session, request)


def _last_submission(session: Session, request: EvidenceRequest, *, decided: bool) -> EvidenceSubmission | None:
    query = select(EvidenceSubmission).where(EvidenceSubmission.request_id == request.id)
    if decided:
        query = query.where(EvidenceSubmission.decision.is_not(None))
    return session.scalar(query.order_by(EvidenceSubmission.id.desc()).limit(1))

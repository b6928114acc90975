"""The lifecycles of change management: a change's states and moves, the local tracker's tickets,
who may take which step, and how ``run_step`` finds each kind of item.

A change, each move a record:

    risk-evaluation (only when significant; the RA owner rates it) -> awaiting-approval
    awaiting-approval -> approved | declined (ISMS manager, with a reason)
                      -> in-implementation (approved when the tracker issue already exists)
    approved -> in-implementation (the tracker issue exists)
    in-implementation -> implemented (issue resolved) | failed (resolved as "Won't Do" and the like)
    implemented -> verified | failed (the requester confirms in chat that it works, or not)
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.changes import Change, LocalTicket
from workflows.kernel.access import Allowed, Refused
from workflows.kernel.steps import Items, Lifecycle


class ChangeState(StrEnum):
    RISK = "risk-evaluation"
    AWAITING = "awaiting-approval"
    APPROVED = "approved"
    DECLINED = "declined"
    IN_IMPLEMENTATION = "in-implementation"
    IMPLEMENTED = "implemented"
    VERIFIED = "verified"
    FAILED = "failed"


LIFECYCLE: Lifecycle[ChangeState] = Lifecycle(
    {
        ChangeState.RISK: frozenset({ChangeState.AWAITING}),
        ChangeState.AWAITING: frozenset({ChangeState.APPROVED, ChangeState.DECLINED, ChangeState.IN_IMPLEMENTATION}),
        ChangeState.APPROVED: frozenset({ChangeState.IN_IMPLEMENTATION}),
        ChangeState.IN_IMPLEMENTATION: frozenset({ChangeState.IMPLEMENTED, ChangeState.FAILED}),
        ChangeState.IMPLEMENTED: frozenset({ChangeState.VERIFIED, ChangeState.FAILED}),
    }
)


class TicketStatus(StrEnum):
    """The local tracker's statuses, named as a stock Jira workflow names them."""

    TO_DO = "To Do"
    IN_PROGRESS = "In Progress"
    DONE = "Done"


# Like a stock Jira workflow, a local ticket may move from any status to any status (reopening too).
TICKET_LIFECYCLE: Lifecycle[TicketStatus] = Lifecycle({status: frozenset(TicketStatus) for status in TicketStatus})

APPROVERS = frozenset({Role.ISMS_MANAGER})
"""Decide on changes, verify any change, and stand in as requester or risk owner when nobody else is."""
TICKET_MOVERS = frozenset({Role.ISMS_MANAGER})
OVERSEERS = frozenset({Role.ISMS_MANAGER, Role.SECURITY_TEAM, Role.AUDITOR, Role.MANAGEMENT})
"""Who sees every open change; everybody else sees the changes they asked for."""


def load_change(session: Session, ref: str, lock: bool) -> Change | None:
    query = select(Change).where(Change.ref == ref.strip().upper())
    return session.scalar(query.with_for_update() if lock else query)


def no_change(ref: str) -> str:
    return f"There is no change {ref}."


def not_waiting_for(change: Change, what: str) -> str:
    return f"{change.ref} is not waiting for {what} (it is {change.state})."


def changes_waiting_for(what: str) -> Items[Change]:
    """The changes as a step sees them that expects ``what``; its refusal names what was expected."""
    return Items(
        kind="change",
        process="CHG",
        load=load_change,
        lifecycle=LIFECYCLE,
        state_field="state",
        missing=no_change,
        not_now=lambda session, change: not_waiting_for(change, what),
    )


TO_RATE = changes_waiting_for("a risk evaluation")
TO_DECIDE = changes_waiting_for("a decision")
TO_VERIFY = changes_waiting_for("verification")


def risk_owner_of(change: Change) -> Allowed:
    """Only the change's risk owner rates it; a change that was never significant has none."""
    if change.risk_owner is None:
        raise Refused(not_waiting_for(change, "a risk evaluation"))
    return Allowed(frozenset(), owner=change.risk_owner)


def verifiers_of(change: Change) -> Allowed:
    """The requester (or whoever was asked to verify) and the approvers confirm a result."""
    return Allowed(APPROVERS, owner=change.verifier)


def _load_ticket(session: Session, key: str, lock: bool) -> LocalTicket | None:
    query = select(LocalTicket).where(LocalTicket.key == key.strip().upper())
    return session.scalar(query.with_for_update() if lock else query)


TICKETS: Items[LocalTicket] = Items(
    kind="ticket",
    process="IMP",
    load=_load_ticket,
    lifecycle=TICKET_LIFECYCLE,
    state_field="status",
    missing=lambda key: f"There is no local ticket {key}. /isms changes lists changes with their tickets.",
    not_now=lambda session, ticket: f"{ticket.key} cannot move now (it is {ticket.status}).",
)

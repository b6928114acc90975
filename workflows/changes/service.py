"""What change management answers from its tables: one change, the open changes, a person's Home."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from storage.models.changes import Change
from workflows.changes import messages
from workflows.changes.lifecycle import APPROVERS, OVERSEERS, ChangeState, load_change, no_change
from workflows.changes.messages import ChangeView
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def find_change(ctx: Context, ref: str) -> Change:
    """The change, detached from its session, for the checks before a form opens."""
    with ctx.read() as session:
        change = load_change(session, ref, False)
        if change is None:
            raise Refused(no_change(ref))
        session.expunge(change)
        return change


def tracker_key_of(ctx: Context, ref: str) -> str | None:
    with ctx.read() as session:
        return session.scalar(select(Change.tracker_key).where(Change.ref == ref))


def open_changes(session: Session, *, requester: str | None = None) -> list[ChangeView]:
    """Changes not closed yet, oldest first; only ``requester``'s when given."""
    query = select(Change).where(Change.closed_at.is_(None)).order_by(Change.id)
    if requester is not None:
        query = query.where(Change.requester == requester)
    return [ChangeView(c.ref, c.title, c.state, c.priority, c.tracker_key) for c in session.scalars(query)]


def list_changes(ctx: Context, actor: Actor) -> Outcome:
    """``/isms changes``: open changes with state and tracker key (all of them for overseers)."""
    require(ctx, actor, EVERYONE, process="CHG", what="listing changes")
    mine_only = not actor.has(*OVERSEERS)
    with ctx.read() as session:
        changes = open_changes(session, requester=actor.id if mine_only else None)
    return Outcome(reply=messages.change_list(changes, mine_only=mine_only))


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """What waits for this person in change management: decisions, risk ratings, verifications."""
    mine = or_(
        and_(Change.state == ChangeState.RISK, Change.risk_owner == actor.id),
        and_(Change.state == ChangeState.IMPLEMENTED, Change.verifier == actor.id),
    )
    if actor.has(*APPROVERS):
        mine = or_(mine, Change.state == ChangeState.AWAITING)
    with ctx.read() as session:
        waiting = list(session.scalars(select(Change).where(mine).order_by(Change.id).limit(20)))
    return [messages.home_item(change) for change in waiting]

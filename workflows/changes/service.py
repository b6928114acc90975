"""What change management answers from its tables: one change, the open changes, a person's Home."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from storage.models.changes import Change
from workflows.changes import messages
from workflows.changes.lifecycle import APPROVERS, OVERSEERS, ChangeState, load_change, no_change
from workflows.changes.messages import ChangeView
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, window
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


def _open(requester: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Change.closed_at.is_(None)]
    if requester is not None:
        conditions.append(Change.requester == requester)
    return conditions


def open_changes(
    session: Session, *, requester: str | None = None, offset: int = 0, limit: int | None = None
) -> list[ChangeView]:
    """Changes not closed yet, oldest first; only ``requester``'s when given; a page when ``limit`` is."""
    query = select(Change).where(*_open(requester)).order_by(Change.id).offset(offset).limit(limit)
    return [ChangeView(c.ref, c.title, c.state, c.priority, c.tracker_key) for c in session.scalars(query)]


def list_changes(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms changes``: counts by state, then open changes with state and tracker key, one page at a
    time (all of them for overseers, a person's own otherwise)."""
    require(ctx, actor, EVERYONE, process="CHG", what="listing changes")
    mine_only = not actor.has(*OVERSEERS)
    requester = actor.id if mine_only else None
    with ctx.read() as session:
        by_state = {
            str(state): count
            for state, count in session.execute(
                select(Change.state, func.count()).where(*_open(requester)).group_by(Change.state)
            )
        }
        page = window(sum(by_state.values()), offset)
        changes = open_changes(session, requester=requester, offset=page.offset, limit=page.size)
    return Outcome(reply=messages.change_list(changes, by_state, page, mine_only=mine_only))


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """What waits for this person in change management: decisions, risk ratings, verifications."""
    mine = or_(
        and_(Change.state == ChangeState.RISK, Change.risk_owner == actor.id),
        and_(Change.state == ChangeState.IMPLEMENTED, Change.verifier == actor.id),
    )
    if actor.has(*APPROVERS):
        mine = or_(mine, Change.state == ChangeState.AWAITING)
    with ctx.read() as session:
        count = session.scalar(select(func.count()).select_from(Change).where(mine)) or 0
        waiting = list(session.scalars(select(Change).where(mine).order_by(Change.id).limit(HOME_ITEMS)))
    items = [messages.home_item(change) for change in waiting]
    if count > len(waiting):
        items.append(
            Message(text=f"{count:,} changes wait for you; these are the oldest {len(waiting)}. /isms changes")
        )
    return items

"""What the improvement register answers from its table: the register (paged) and IMPR's status lines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models.improvement import Improvement
from workflows.improvement import messages
from workflows.improvement.lifecycle import DECIDERS, READERS, ImprovementState
from workflows.kernel.access import EVERYONE, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, window
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def register(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms improvements``: counts by state, then the items (open ones first), one page; the whole
    register for the ISMS manager, auditors and management, a person's own suggestions otherwise."""
    require(ctx, actor, EVERYONE, process="IMPR", what="the improvement register", attempt=False)
    mine_only = not actor.has(*READERS)
    mine = (Improvement.author == actor.id,) if mine_only else ()
    with ctx.read() as session:
        by_state = {
            str(state): int(n)
            for state, n in session.execute(
                select(Improvement.state, func.count()).where(*mine).group_by(Improvement.state)
            )
        }
        page = window(sum(by_state.values()), offset)
        still_open = case((Improvement.state == ImprovementState.OPEN, 0), else_=1)
        items = session.scalars(
            select(Improvement).where(*mine).order_by(still_open, Improvement.id).offset(page.offset).limit(page.size)
        )
        lines = [messages.line(ctx.org, item) for item in items]
    return Outcome(reply=messages.register(lines, by_state, page, mine_only=mine_only))


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """For the ISMS manager: the oldest items waiting for a decision, with Accept and Decline."""
    if not actor.has(*DECIDERS):
        return []
    waiting = Improvement.state == ImprovementState.OPEN
    with ctx.read() as session:
        count = int(session.scalar(select(func.count()).select_from(Improvement).where(waiting)) or 0)
        items = list(session.scalars(select(Improvement).where(waiting).order_by(Improvement.id).limit(HOME_ITEMS)))
        shown = [messages.decision_request(ctx.org, item) for item in items]
    if count > len(items):
        shown.append(
            Message(text=f"{count:,} improvements wait for your decision; these are the oldest. /isms improvements")
        )
    return shown


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """IMPR in ``/isms status``: the register by state."""
    by_state = {
        str(state): int(n)
        for state, n in session.execute(select(Improvement.state, func.count()).group_by(Improvement.state))
    }
    if not by_state:
        return []
    parts = [f"{messages.STATE_LABELS[s].lower()} {by_state[s]}" for s in ImprovementState if by_state.get(s)]
    return [f"Improvements: {', '.join(parts)}"]

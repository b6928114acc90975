"""Queries of management reviews: one review, the paged list, and GOV's lines of ``/isms status``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models.reviews import Review, ReviewAction
from workflows.changes.lifecycle import ChangeState
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, window
from workflows.kernel.people import when
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.review import messages
from workflows.review.lifecycle import ORGANISERS, READERS, ReviewState, load_review, no_review

FINISHED = (ChangeState.VERIFIED, ChangeState.FAILED, ChangeState.DECLINED)


def find_review(ctx: Context, ref: str) -> Review:
    with ctx.read() as session:
        review = load_review(session, ref, False)
        if review is None:
            raise Refused(no_review(ref))
        session.expunge(review)
        return review


def list_reviews(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms reviews``: counts by state, then a page of reviews, newest first."""
    require(ctx, actor, READERS, process="GOV", what="the list of management reviews", attempt=False)
    with ctx.read() as session:
        by_state = {
            str(state): count
            for state, count in session.execute(select(Review.state, func.count()).group_by(Review.state))
        }
        page = window(sum(by_state.values()), offset)
        reviews = list(
            session.scalars(select(Review).order_by(Review.starts_at.desc()).offset(page.offset).limit(page.size))
        )
        actions = dict(
            session.execute(
                select(ReviewAction.review_ref, func.count())
                .where(ReviewAction.review_ref.in_([r.ref for r in reviews]))
                .group_by(ReviewAction.review_ref)
            ).all()
        )
        lines = [messages.review_line(ctx.org, review, actions.get(review.ref, 0)) for review in reviews]
    return Outcome(reply=messages.review_list(lines, by_state, page))


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """GOV in ``/isms status``: the next review and the open actions of earlier ones."""
    upcoming = session.scalar(
        select(Review)
        .where(Review.starts_at >= now, Review.state != ReviewState.CANCELLED)
        .order_by(Review.starts_at)
        .limit(1)
    )
    today = now.astimezone(ctx.org.zone).date()
    open_actions = session.execute(
        select(func.count(), func.sum(case((ReviewAction.due < today, 1), else_=0))).where(
            ReviewAction.change_state.not_in(FINISHED)
        )
    ).one()
    count, late = int(open_actions[0] or 0), int(open_actions[1] or 0)
    if upcoming is None:
        first = "No management review is scheduled. /isms review new calls one."
    else:
        pack = "pack ready" if upcoming.pack_at else f"pack due {when(upcoming.pack_due_at or now, ctx.org.zone)}"
        first = f"Next management review: {upcoming.ref} {when(upcoming.starts_at, ctx.org.zone)} ({pack})"
    return [f"Open review actions: {count}" + (f", {late} past their due date" if late else ""), first]


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """Reviews that took place and wait for their decisions: the ISMS manager's, and the chair's own."""
    waiting = [Review.state.not_in((ReviewState.DECIDED, ReviewState.CANCELLED)), Review.starts_at <= ctx.clock()]
    if not actor.has(*ORGANISERS):
        waiting.append(Review.chair == actor.id)
    with ctx.read() as session:
        reviews = list(session.scalars(select(Review).where(*waiting).order_by(Review.starts_at).limit(HOME_ITEMS)))
        return [messages.decisions_due(ctx.org, review) for review in reviews]

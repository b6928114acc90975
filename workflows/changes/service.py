"""What change management answers from its tables: one change, the open changes, a person's Home."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from storage.aggregates import Spread, bucket, percentiles, seconds_between
from storage.models.changes import Change
from workflows.changes import messages
from workflows.changes.lifecycle import APPROVERS, OVERSEERS, ChangeState, load_change, no_change
from workflows.changes.messages import ChangeView
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, window
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.performance import periods


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


# ------------------------------------------------------------------------------ status, metrics, reports
# Aggregates for process COM (status, digests, reports) and PERF (metrics), grouped in SQL.


@dataclass(frozen=True)
class ChangeSummary:
    """Open changes by state, and the oldest open ones past ``late_after`` with their tracker keys."""

    by_state: dict[str, int]
    late: int
    oldest_late: list[tuple[str, str, str | None, datetime]]
    """``(ref, state, tracker key, requested at)``, oldest first."""

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


def summary(
    session: Session, now: datetime, late_after: timedelta, *, requester: str | None = None, show: int = 5
) -> ChangeSummary:
    """``/isms status``'s change part: one grouped query, one count and one short page of late changes."""
    where = _open(requester)
    by_state = {
        str(state): int(count)
        for state, count in session.execute(select(Change.state, func.count()).where(*where).group_by(Change.state))
    }
    late = [*where, Change.created_at < now - late_after]
    count = session.scalar(select(func.count()).select_from(Change).where(*late)) or 0
    oldest = [
        (ref, state, key, created)
        for ref, state, key, created in session.execute(
            select(Change.ref, Change.state, Change.tracker_key, Change.created_at)
            .where(*late)
            .order_by(Change.created_at, Change.id)
            .limit(show)
        )
    ]
    return ChangeSummary(by_state, count, oldest)


def lead_times(session: Session, since: datetime, until: datetime) -> Spread | None:
    """Seconds from request to verification, for changes verified in ``[since, until)``."""
    found = percentiles(
        session,
        seconds_between(Change.created_at, Change.closed_at),
        literal("all"),
        [Change.state == ChangeState.VERIFIED, Change.closed_at >= since, Change.closed_at < until],
    )
    return found.get("all")


def lead_times_per_month(session: Session, months: Sequence[tuple[str, datetime, datetime]]) -> dict[str, Spread]:
    """Lead time spread per month of verification."""
    if not months:
        return {}
    month = bucket(Change.closed_at, months)
    found = percentiles(
        session,
        seconds_between(Change.created_at, Change.closed_at),
        month,
        [Change.state == ChangeState.VERIFIED, Change.closed_at >= months[0][1], Change.closed_at < months[-1][2]],
    )
    return {str(label): spread for label, spread in found.items()}


def period_counts(session: Session, since: datetime, until: datetime) -> dict[str, int]:
    """Requested, verified and failed or declined in ``[since, until)`` (one query)."""
    requested = (Change.created_at >= since) & (Change.created_at < until)
    closed = (Change.closed_at >= since) & (Change.closed_at < until)
    row = session.execute(
        select(
            func.sum(case((requested, 1), else_=0)),
            func.sum(case((closed & (Change.state == ChangeState.VERIFIED), 1), else_=0)),
            func.sum(case((closed & (Change.state != ChangeState.VERIFIED), 1), else_=0)),
        ).where(requested | closed)  # the two time indexes, not every change ever requested
    ).one()
    return {"requested": int(row[0] or 0), "verified": int(row[1] or 0), "failed or declined": int(row[2] or 0)}


REGISTER_COLUMNS = (
    "ref",
    "title",
    "state",
    "origin",
    "priority",
    "significant",
    "requester",
    "tracker_key",
    "tracker_status",
    "created_at",
    "closed_at",
)


def register(
    session: Session, since: datetime, until: datetime, *, requester: str | None = None
) -> Iterator[dict[str, str]]:
    """The change register: every change requested in ``[since, until)``, oldest first, streamed."""
    query = select(Change).where(Change.created_at >= since, Change.created_at < until)
    if requester is not None:
        query = query.where(Change.requester == requester)
    for change in session.scalars(query.order_by(Change.id).execution_options(yield_per=1000)):
        yield {
            "ref": change.ref,
            "title": change.title,
            "state": change.state,
            "origin": f"{change.origin_process} {change.origin_ref}",
            "priority": change.priority,
            "significant": "yes" if change.significant else "no",
            "requester": change.requester,
            "tracker_key": change.tracker_key or "",
            "tracker_status": change.tracker_status or "",
            "created_at": change.created_at.isoformat(),
            "closed_at": change.closed_at.isoformat() if change.closed_at else "",
        }


def recent(session: Session, limit: int) -> list[tuple[str, str, str | None, datetime]]:
    """``(ref, state, tracker key, updated)`` of the most recently updated changes."""
    query = select(Change.ref, Change.state, Change.tracker_key, Change.updated_at)
    return [(r, s, k, u) for r, s, k, u in session.execute(query.order_by(Change.updated_at.desc()).limit(limit))]


# ------------------------------------------------------------------------------ /isms changes all
def all_changes(ctx: Context, actor: Actor, period_text: str = "", offset: int = 0) -> Outcome:
    """``/isms changes all [PERIOD]``: every change, open and closed, requested in the period when one
    is given (``2026-Q4``, ``since 2026-10-01``), newest first; counts by state first, one page at a
    time. As ``/isms changes``: all of them for overseers, a person's own requests otherwise."""
    require(ctx, actor, EVERYONE, process="CHG", what="listing changes")
    now = ctx.clock()
    period = periods.parse(period_text, ctx.org.zone, now) if period_text.strip() else None
    mine_only = not actor.has(*OVERSEERS)
    where: list[ColumnElement[bool]] = [Change.requester == actor.id] if mine_only else []
    if period is not None:
        where += [Change.created_at >= period.start, Change.created_at < period.end]
    with ctx.read() as session:
        by_state = {
            str(state): count
            for state, count in session.execute(select(Change.state, func.count()).where(*where).group_by(Change.state))
        }
        page = window(sum(by_state.values()), offset)
        shown = session.execute(
            select(Change.ref, Change.title, Change.state, Change.tracker_key, Change.created_at, Change.closed_at)
            .where(*where)
            .order_by(Change.id.desc())
            .offset(page.offset)
            .limit(page.size)
        ).all()
    return Outcome(reply=messages.all_changes_list(ctx.org.zone, shown, by_state, page, period, mine_only=mine_only))

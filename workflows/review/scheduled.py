"""GOV's due work: schedule the organisation file's planned reviews, and assemble each review's input
pack when it falls due.

Both are safe with two runtimes on one database: a planned occurrence is claimed in
``periodic_runs`` in the transaction that records the review, and a pack is stored under the review's
row lock only while its ``pack_due_at`` is still set (it is cleared in that same transaction).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage import periodic
from storage.models.reviews import Review
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context
from workflows.review import flows
from workflows.review.forms import DEFAULT_TITLE
from workflows.review.pack import add_months

PLANNED = "gov.review"
PACKS_PER_TICK = 20


def plan_reviews(ctx: Context) -> None:
    """The next planned review of the series (the first one not yet begun), scheduled once."""
    settings = ctx.org.reviews
    if settings.first is None:
        return
    now = ctx.clock()
    occurrence = _next_occurrence(settings.first, settings.every_months, ctx, now)
    if occurrence is None:
        return
    label = occurrence.isoformat()
    with ctx.read() as session:
        if periodic.done(session, PLANNED, label):
            return
    chair = flows.chair_of(ctx, ctx.org.with_role("isms_manager")[0].id)
    with ctx.work(SYSTEM) as work:
        if not periodic.claim(work.session, PLANNED, label, now):
            return
        flows.schedule_review(
            work,
            title=DEFAULT_TITLE,
            starts_at=occurrence,
            minutes=settings.duration_minutes,
            chair=chair,
            attendees=list(settings.attendees),
            location=settings.location,
            origin="schedule",
        )


def _next_occurrence(first: datetime, every_months: int, ctx: Context, now: datetime) -> datetime | None:
    """The first occurrence at or after ``now`` (local times in the organisation's zone)."""
    step = 0
    while True:
        local = add_months(first, step * every_months).replace(tzinfo=ctx.org.zone)
        if local >= now:
            return local
        if every_months == 0:
            return None
        step += 1


def assemble_packs(ctx: Context) -> None:
    """Every review whose pack is due (indexed by ``pack_due_at``), one transaction each."""
    now = ctx.clock()
    with ctx.read() as session:
        due = list(
            session.scalars(
                select(Review.id).where(Review.pack_due_at <= now).order_by(Review.pack_due_at).limit(PACKS_PER_TICK)
            )
        )
    for review_id in due:
        flows.assemble_pack(ctx, review_id)

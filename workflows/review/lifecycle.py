"""The life of a management review, who may act on one, and how the step runner finds one.

scheduled --pack assembled--> pack-ready --decisions recorded--> decided
scheduled --decisions recorded--> decided   (a review called at short notice, before its pack)
scheduled or pack-ready --cancelled by the ISMS manager, with a reason--> cancelled
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.reviews import Review
from workflows.kernel.access import Allowed
from workflows.kernel.steps import Items, Lifecycle


class ReviewState(StrEnum):
    SCHEDULED = "scheduled"
    PACK_READY = "pack-ready"
    DECIDED = "decided"
    CANCELLED = "cancelled"


LIFECYCLE = Lifecycle[ReviewState](
    {
        ReviewState.SCHEDULED: frozenset({ReviewState.PACK_READY, ReviewState.DECIDED, ReviewState.CANCELLED}),
        ReviewState.PACK_READY: frozenset({ReviewState.DECIDED, ReviewState.CANCELLED}),
    }
)
STATE_LABELS: dict[str, str] = {
    ReviewState.SCHEDULED: "scheduled",
    ReviewState.PACK_READY: "pack ready",
    ReviewState.DECIDED: "decided",
    ReviewState.CANCELLED: "cancelled",
}

ORGANISERS = frozenset({Role.ISMS_MANAGER})
"""Call reviews and record their decisions (the chair may record them too)."""
READERS = frozenset({Role.ISMS_MANAGER, Role.MANAGEMENT, Role.AUDITOR, Role.SECURITY_LEAD})
"""See every review with its pack and actions."""


def deciders_of(review: Review) -> Allowed:
    """The ISMS manager, or the review's chair, records what the review decided."""
    return Allowed(ORGANISERS, owner=review.chair)


def load_review(session: Session, ref: str, lock: bool) -> Review | None:
    query = select(Review).where(Review.ref == ref.strip().upper())
    return session.scalar(query.with_for_update() if lock else query)


def no_review(ref: str) -> str:
    return f"There is no management review {ref.strip() or '(no reference given)'}. /isms reviews lists them."


def already_decided(review: Review) -> str:
    if review.state == ReviewState.CANCELLED:
        return f"{review.ref} was cancelled."
    return f"The decisions of {review.ref} were already recorded."


REVIEWS: Items[Review] = Items(
    kind="review",
    process="GOV",
    load=load_review,
    lifecycle=LIFECYCLE,
    state_field="state",
    missing=no_review,
    not_now=lambda session, review: already_decided(review),
)

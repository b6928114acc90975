"""Refused attempts without an unbounded records log: the first refusal of a person, action and subject
is recorded, repeats only counted (``refusals.count``, ``last_at``).

A person can vary the subject (another reference each time), so the distinct subjects per person and
action are capped too: past ``MAX_SUBJECTS`` every further subject is counted on one row, subject
``("*", "*")``, recorded once. The records log thus grows by at most ``MAX_SUBJECTS + 1`` records per
person and action, however often they try.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models.refusals import Refusal

MAX_SUBJECTS = 20
ANY_SUBJECT = ("*", "*")


def first_refusal(
    session: Session, actor: str, process: str, attempted: str, subject: tuple[str, str], now: datetime
) -> bool:
    """Count this refusal in the caller's transaction; True if it is the first (so record it)."""
    key = {
        "actor": actor[:64],
        "process": process[:16],
        "attempted": attempted[:200],
        "subject_type": subject[0][:64],
        "subject_id": subject[1][:200],
    }
    if _count(session, key, now):
        return False
    same_action = (
        Refusal.actor == key["actor"],
        Refusal.process == key["process"],
        Refusal.attempted == key["attempted"],
    )
    if (session.scalar(select(func.count()).select_from(Refusal).where(*same_action)) or 0) >= MAX_SUBJECTS:
        key["subject_type"], key["subject_id"] = ANY_SUBJECT
        if _count(session, key, now):
            return False
    try:
        with session.begin_nested():
            session.add(Refusal(**key, count=1, first_at=now, last_at=now))
    except IntegrityError:  # the same refusal, racing in from another request
        _count(session, key, now)
        return False
    return True


def _count(session: Session, key: dict[str, str], now: datetime) -> bool:
    """Add one to an existing row; False if there is none yet."""
    matches = [getattr(Refusal, column) == value for column, value in key.items()]
    result = session.execute(update(Refusal).where(*matches).values(count=Refusal.count + 1, last_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]

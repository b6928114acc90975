"""Claim a piece of periodic work for one period, once across every runtime on the database.

The row is inserted in the caller's transaction inside a savepoint: the work and its claim commit
together, and a runtime racing for the same period fails on the primary key (on PostgreSQL it waits
for the first one's commit) and does nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models.periodic import PeriodicRun


def claim(session: Session, name: str, period: str, now: datetime) -> bool:
    """True the first time ``(name, period)`` is claimed; marks it in the caller's transaction."""
    if session.get(PeriodicRun, (name, period)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(PeriodicRun(name=name, period=period, done_at=now))
    except IntegrityError:
        return False
    return True


def done(session: Session, name: str, period: str) -> bool:
    return session.get(PeriodicRun, (name, period)) is not None

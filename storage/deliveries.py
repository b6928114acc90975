"""Act once per request: Slack retries events, people double-click, replicas race.

The key is inserted in the same transaction as the work it guards, inside a savepoint, so a
duplicate (even one racing in from another replica) is detected by the primary key and the
surrounding transaction carries on to do nothing.

Keys are needed only while a repeat can arrive: Slack retries an event at most three times within
about five minutes, and a signed request older than five minutes is refused anyway. ``prune`` (run by
the scheduler's tick) deletes keys older than ``KEEP``, so the table holds about an hour of traffic.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models.deliveries import Delivery

KEEP = timedelta(hours=1)
PRUNE_BATCH = 5000


def first_time(session: Session, key: str, now: datetime) -> bool:
    """True if this key was never handled; marks it handled in the caller's transaction."""
    if session.get(Delivery, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Delivery(key=key[:200], at=now))
    except IntegrityError:
        return False
    return True


def prune(session: Session, now: datetime, keep: timedelta = KEEP, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` keys older than ``keep`` (oldest first); returns how many."""
    old = select(Delivery.key).where(Delivery.at < now - keep).order_by(Delivery.at).limit(limit)
    result = session.execute(delete(Delivery).where(Delivery.key.in_(old.scalar_subquery())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

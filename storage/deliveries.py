"""Act once per request: Slack retries events, people double-click, replicas race.

The key is inserted in the same transaction as the work it guards, inside a savepoint, so a
duplicate (even one racing in from another replica) is detected by the primary key and the
surrounding transaction carries on to do nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models.deliveries import Delivery


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

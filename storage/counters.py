"""Gap-free numbering ("CHG-2026-0007", "LOCAL-12") inside the caller's transaction.

A sequence or autoincrement would leave gaps whenever a transaction rolls back, and auditors read a
gap in change references as a change that vanished. Incrementing a counter row in the creating
transaction gives the number back on rollback; concurrent creators wait on the row lock.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models.changes import ChangeCounter


def next_number(session: Session, series: str) -> int:
    """Take the next number of ``series`` (1 for a new series); the row stays locked until commit."""
    row = session.get(ChangeCounter, series, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ChangeCounter(series=series, value=1))
            return 1
        except IntegrityError:
            # Another transaction started the series first; its row is committed now, so lock it.
            row = session.get(ChangeCounter, series, with_for_update=True, populate_existing=True)
            assert row is not None
    row.value += 1
    return row.value

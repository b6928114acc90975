"""Gap-free numbering ("INC-2026-0001", "CHG-2026-0007", "LOCAL-12") inside the caller's transaction.

A sequence or autoincrement would leave gaps whenever a transaction rolls back, and auditors read a
gap in references as a record that vanished. One INSERT ... ON CONFLICT DO UPDATE ... RETURNING takes
the next number: the counter row stays locked until the caller's transaction ends (PostgreSQL row
lock; SQLite serialises writers with BEGIN IMMEDIATE), concurrent creators queue on it, and a
rollback gives the number back.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import is_postgresql
from storage.models.counters import Counter


def next_number(session: Session, series: str) -> int:
    """Take the next number of ``series`` (1 for a new series)."""
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    statement = (
        insert(Counter)
        .values(series=series, value=1)
        .on_conflict_do_update(index_elements=[Counter.series], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    return int(session.execute(statement).scalar_one())

"""Gap-free numbering ("INC-2026-0001", "CHG-2026-0007", "LOCAL-12") inside the caller's transaction.

A sequence or autoincrement would leave gaps whenever a transaction rolls back, and auditors read a
gap in references as a record that vanished. One INSERT ... ON CONFLICT DO UPDATE ... RETURNING takes
the next number: the counter row stays locked until the caller's transaction ends (PostgreSQL row
lock; SQLite serialises writers with BEGIN IMMEDIATE), concurrent creators queue on it, and a
rollback gives the number back.

Because the lock lasts from taking the number to commit, a creator takes it as late as it can: it
writes its row under a provisional reference, does the rest of its work, and then ``number_row``
numbers the row (on PostgreSQL in one statement), followed only by what must name the reference.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, case, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.db import is_postgresql
from storage.models.counters import Counter


def _take(insert: Any, series: str) -> Any:
    return (
        insert(Counter)
        .values(series=series, value=1)
        .on_conflict_do_update(index_elements=[Counter.series], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )


def next_number(session: Session, series: str) -> int:
    """Take the next number of ``series`` (1 for a new series)."""
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    return int(session.execute(_take(insert, series)).scalar_one())


def number_row(session: Session, series: str, model: Any, row_id: int, prefix: str, width: int = 4) -> int:
    """Take the next number of ``series`` and give it to the row ``row_id`` of ``model``: its ``number``
    column, and its ``ref`` column as ``prefix`` and the number zero-padded to ``width`` digits.

    On PostgreSQL one statement (the counter's upsert as a CTE of the row's UPDATE), so the counter
    lock is taken one round trip later. The ORM object, if loaded, is not refreshed: set it yourself.
    """
    if not is_postgresql(session):
        number = next_number(session, series)
        values = {"number": number, "ref": f"{prefix}{number:0{width}d}"}
        session.execute(
            update(model).where(model.id == row_id).values(values).execution_options(synchronize_session=False)
        )
        return number
    taken = _take(postgresql.insert, series).cte("taken")
    value = select(taken.c.value).scalar_subquery()
    digits = cast(value, Text)
    padded = case((func.length(digits) < width, func.lpad(digits, width, "0")), else_=digits)
    statement = (
        update(model)
        .where(model.id == row_id)
        .values(number=value, ref=prefix + padded)
        .returning(model.number)
        .add_cte(taken)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).scalar_one())

"""SQL building blocks for metrics, the same on SQLite and PostgreSQL: durations in seconds between
two timestamp columns, nearest-rank percentiles per group, and buckets by time boundaries.

Everything is computed by the database (window functions and GROUP BY), so a status answer or a
report reads a handful of rows however many incidents, changes or requests there are.

Nearest-rank percentile: the p-th percentile of n values sorted ascending is the value at position
ceil(p * n) (1-based); the median is the p = 1/2 case (for an even n, the lower of the two middle
values). It needs no interpolation, so both databases give exactly the same answer.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

MEDIAN = (1, 2)
P90 = (9, 10)


class seconds_between(FunctionElement[float]):
    """``seconds_between(start, end)``: seconds from ``start`` to ``end`` (both UTC timestamp columns)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@dataclass(frozen=True)
class Spread:
    """How a duration (in seconds) is spread in one group: count, median and 90th percentile."""

    count: int
    median: float
    p90: float


def percentiles(
    session: Session,
    value: ColumnElement[Any] | QueryableAttribute[Any],
    group: ColumnElement[Any] | QueryableAttribute[Any],
    where: Sequence[ColumnElement[bool]],
) -> dict[Hashable, Spread]:
    """Count, median and 90th percentile (nearest rank) of ``value`` per ``group``, rows ``where``.

    One query: each row numbered within its group by ``value``; only the rows at the two ranks come
    back (at most two per group)."""
    ranked = (
        select(
            group.label("g"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(*where, value.is_not(None))
        .subquery()
    )
    wanted = [ranked.c.rn == (ranked.c.n * num + (den - 1)) // den for num, den in (MEDIAN, P90)]
    found: dict[Hashable, dict[str, Any]] = {}
    for g, v, rn, n in session.execute(select(ranked.c.g, ranked.c.v, ranked.c.rn, ranked.c.n).where(or_(*wanted))):
        entry = found.setdefault(g, {"n": int(n)})
        for label, (num, den) in (("median", MEDIAN), ("p90", P90)):
            if rn == (n * num + den - 1) // den:
                entry[label] = float(v)
    return {g: Spread(e["n"], e["median"], e["p90"]) for g, e in found.items()}


def bucket(
    column: ColumnElement[Any] | QueryableAttribute[Any],
    bounds: Sequence[tuple[str, datetime, datetime]],
) -> ColumnElement[Any]:
    """The label of the ``(label, start, end)`` interval ``column`` falls in (None outside all), as SQL:
    the boundaries are computed in the organisation's timezone by the caller, so no database needs to
    know time zones."""
    return case(*((column < end, label) for label, _start, end in bounds), else_=None)

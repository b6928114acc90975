"""Due work in batches: what the scheduler's tick does with many items at once.

A tick reads the ids of what is due with one indexed query (``find``), then handles them in batches,
one transaction per batch (``handle``), so its cost grows with what is due, not with what is open,
and a thousand reminders cost a few transactions instead of a thousand.

A failure must not lose the others: when a batch fails, its transaction is rolled back and the batch
is halved and tried again, down to the single item that fails. That item is logged (with its id, at
ERROR) and left as it was, so the next tick tries it again; every other item of the batch is handled
in this tick. A bad item among ``n`` costs about ``2 log2 n`` extra transactions, not ``n``.

``handle`` returns the ids it handled; ids it passed over (locked by somebody acting on them, no longer
due) wait for the next tick. An item still due after it was handled (a step that makes the next one
due at once) is handled again in the same tick, at most ``repeats`` times.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.db import is_postgresql
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context, Work

log = logging.getLogger(__name__)
Row = TypeVar("Row")

BATCH = 200
"""Items per transaction: large enough that a fan-out costs a few transactions, small enough to keep
row locks short for people clicking buttons on the same items."""

Find = Callable[[Session, int, Collection[int]], Sequence[int]]
"""``find(session, limit, passed)``: ids due now, soonest first, at most ``limit``, none of ``passed``."""
Handle = Callable[[Work, Sequence[int]], Collection[int]]
"""``handle(work, ids)``: handle what is still due of ``ids`` in ``work``; returns the ids handled."""


@dataclass
class BatchReport:
    handled: int = 0
    failed: list[int] = field(default_factory=list)
    """Items whose handling raised; left as they were for the next tick."""
    transactions: int = 0


def run_batches(
    ctx: Context, what: str, find: Find, handle: Handle, *, size: int = BATCH, repeats: int = 2
) -> BatchReport:
    """Handle everything ``find`` says is due, ``size`` items per transaction; see the module doc."""
    report = BatchReport()
    passed: set[int] = set()
    times: Counter[int] = Counter()
    while True:
        with ctx.read() as session:
            ids = list(find(session, size, passed))
        if not ids:
            return report
        handled = _attempt(ctx, what, ids, handle, report)
        times.update(handled)
        passed.update(i for i in ids if i not in handled or times[i] >= repeats)


def _attempt(ctx: Context, what: str, ids: list[int], handle: Handle, report: BatchReport) -> set[int]:
    report.transactions += 1
    try:
        with ctx.work(SYSTEM) as work:
            handled = set(handle(work, ids))
    except Exception:
        if len(ids) == 1:
            log.exception("%s: item %s failed; the next tick tries it again", what, ids[0])
            report.failed.append(ids[0])
            return set()
        log.warning("%s: a batch of %d failed; halving it to find the item that fails", what, len(ids))
        middle = len(ids) // 2
        return _attempt(ctx, what, ids[:middle], handle, report) | _attempt(ctx, what, ids[middle:], handle, report)
    report.handled += len(handled)
    return handled


def due_finder(
    id_column: InstrumentedAttribute[int],
    due_column: InstrumentedAttribute[Any],
    now: datetime,
    *still: ColumnElement[bool],
) -> Find:
    """The usual ``find``: ids whose indexed ``due_column`` has come by ``now`` and that meet ``still``
    (open, not reported...), soonest first."""

    def find(session: Session, limit: int, passed: Collection[int]) -> Sequence[int]:
        query = select(id_column).where(due_column <= now, *still).order_by(due_column, id_column).limit(limit)
        if passed:
            query = query.where(id_column.notin_(passed))
        return list(session.scalars(query))

    return find


def load_due(session: Session, query: Select[Row]) -> list[Row]:
    """The rows of a batch that are still due, locked; on PostgreSQL rows somebody is acting on right now
    (a person answering) are skipped, so they go first and the tick takes them next time."""
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))

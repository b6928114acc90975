"""Due work that happens once per period (a weekly digest, a monthly report, a monthly lessons post),
even with two runtimes on one database.

The period is claimed in ``periodic_runs`` (storage/periodic.py) in the same transaction that queues
what it sends, so two ticks racing for it send once; a period already done is seen before anything is
gathered, so a tick after that costs one primary-key read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from storage import periodic
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context, Work

Gathered = TypeVar("Gathered")


def once_per_period(
    ctx: Context,
    name: str,
    period: str,
    now: datetime,
    gather: Callable[[], Gathered],
    send: Callable[[Work, Gathered], None],
) -> None:
    """``gather`` what to send (reading, outside the write), then ``send`` it in the transaction that
    claims ``(name, period)``; nothing at all when the period was already claimed."""
    with ctx.read() as session:
        if periodic.done(session, name, period):
            return
    gathered = gather()
    with ctx.work(SYSTEM) as work:
        if periodic.claim(work.session, name, period, now):
            send(work, gathered)

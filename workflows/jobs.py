"""The recurring work of every process, as plain functions of (context) the scheduler calls.

The scheduler keeps a small fixed set of APScheduler jobs (e.g. "every minute: run what is due");
each process adds its own due-work function to ``EVERY_MINUTE`` here. Each function reads what is
due from our own tables at ``ctx.clock()`` and is safe to run twice (it must not repeat an effect).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from workflows.context import Context

log = logging.getLogger(__name__)

DueWork = Callable[[Context], None]

EVERY_MINUTE: list[DueWork] = []


def run_due_work(ctx: Context) -> None:
    """One scheduler tick: every process's due work, each independent of the others' failures."""
    for due in EVERY_MINUTE:
        try:
            due(ctx)
        except Exception:
            log.exception("due work %s failed; will run again next tick", due.__name__)

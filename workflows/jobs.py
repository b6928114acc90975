"""The recurring work of every process, as plain functions of (context) the scheduler calls.

The scheduler keeps a small fixed set of APScheduler jobs ("every minute: run what is due"); the
list below is every process's due work in one place. Each function reads what is due from our own
tables at ``ctx.clock()`` and is safe to run twice (it never repeats an effect).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from workflows.context import Context

log = logging.getLogger(__name__)

DueWork = Callable[[Context], None]


def due_work() -> tuple[DueWork, ...]:
    """INC timers and clocks, evidence requests and their ladder, the Jira poll, the retention sweep."""
    from workflows import change_tracker, evidence, incident_clocks, records_control

    return (incident_clocks.due, evidence.due_evidence, change_tracker.queue_poll, records_control.sweep_retention)


def run_due_work(ctx: Context) -> None:
    """One scheduler tick: every process's due work, each independent of the others' failures."""
    for due in due_work():
        try:
            due(ctx)
        except Exception:
            log.exception("due work %s failed; will run again next tick", due.__name__)

"""What a process package hands to the rest of the bot: one descriptor, listed in
``workflows/registry.py``. The router, the scheduler's tick, the App Home, ``/isms help`` and the
interface bus read the descriptors, so adding a process never means editing them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from config.organisation import Role
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Receiver
from workflows.kernel.routing import Router
from workflows.kernel.ui import Message
from workflows.kernel.work import Context

log = logging.getLogger(__name__)

DueWork = Callable[[Context], None]
"""Recurring work: reads what is due from our own tables at ``ctx.clock()``; safe to run twice."""
HomeSection = Callable[[Context, Actor], list[Message]]
"""What waits for this person in the process, for the App Home (and ``/isms home``)."""
StatusSection = Callable[[Session, Context, datetime], list[str]]
"""Lines this process adds to ``/isms status`` for those who see the whole ISMS (counts first, at most a
dozen lines, user text already escaped by the renderer): the registers, campaigns, audits and reviews
say where they stand here, so COM never reads their tables."""


@dataclass(frozen=True)
class HelpEntry:
    """One line of ``/isms help``, shown only to people holding one of ``roles``."""

    usage: str
    purpose: str
    roles: frozenset[Role]


@dataclass(frozen=True)
class Process:
    """One process package's contribution.

    ``id`` is the catalogue's process id (``INC``); machinery that serves every process names itself
    (``ISMS`` for help and home, ``EVIDENCE`` for the activity programme).
    ``receives`` maps an interface name (PRM "← X") to the handler that takes it in.
    """

    id: str
    routes: Callable[[Router], None]
    help: tuple[HelpEntry, ...] = ()
    due: tuple[DueWork, ...] = ()
    home: HomeSection | None = None
    status: StatusSection | None = None
    receives: Mapping[str, Receiver] = field(default_factory=dict)


def build_router(processes: tuple[Process, ...]) -> Router:
    """The one routing table, filled by every process's routes."""
    router = Router()
    for process in processes:
        process.routes(router)
    return router


def run_due_work(ctx: Context) -> None:
    """One scheduler tick: every process's due work, each independent of the others' failures."""
    for process in ctx.processes:
        for due in process.due:
            try:
                due(ctx)
            except Exception:
                log.exception("due work %s of %s failed; will run again next tick", due.__name__, process.id)

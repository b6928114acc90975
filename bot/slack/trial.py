"""A request first runs in the request thread as a trial that may only read.

Most of what people ask that stores nothing (help, lists, status, a form to open) must answer while
Slack waits: a form needs ``views.open`` within the 3 s its trigger id lives, and an answer that is
ready in milliseconds needs no queue. What stores something goes to the intake and a worker. Which of
the two a request is, only its workflow knows (``/incident`` alone opens a form, ``/incident <text>``
stores a report; a refusal stores its record), so the workflow is simply run: reads are harmless, and
at the first write transaction it begins on ``ctx.sessions`` the trial stops (``WouldWrite``) before
anything is written or sent. Workflows never talk to the outside themselves (their effects wait in
the outbox, written in a transaction), so a stopped trial has done nothing but read.

``WouldWrite`` derives from ``BaseException`` so that no ``except Exception`` on the way (the
router's failure net turns those into ``ERR-`` references) mistakes the end of a trial for a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar
from weakref import WeakSet

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
_TRIAL: ContextVar[bool] = ContextVar("isms_read_only_trial", default=False)
_GUARDED: WeakSet[sessionmaker[Session]] = WeakSet()
"""The sessionmakers guarded so far, for as long as each lives. Not ``event.contains``: SQLAlchemy keys
a listener on ``id(sessionmaker)`` and keeps the key after that sessionmaker is gone, so a new one
allocated at the same address (in a process that built apps before, as a test run does) looked
guarded, was not, and its trials ran their workflows for real in the request thread."""
_GUARDING = threading.Lock()


class WouldWrite(BaseException):
    """The trial's workflow began a write transaction: it must run in an intake worker."""


def guard(sessions: sessionmaker[Session]) -> None:
    """Stop trials at the first transaction begun on ``sessions`` (the writing sessions; reads go through
    ``ctx.read()``, whose sessions are another sessionmaker). Once per sessionmaker, however many apps
    are built on it."""
    with _GUARDING:
        if sessions not in _GUARDED:
            event.listen(sessions, "after_transaction_create", _stop_trial)
            _GUARDED.add(sessions)


def _stop_trial(session: Session, transaction: Any) -> None:
    if _TRIAL.get() and transaction.parent is None:
        raise WouldWrite


def attempt(call: Callable[[], T]) -> T | None:
    """``call()``'s result if it only read, or None if it was stopped at its first write."""
    token = _TRIAL.set(True)
    try:
        return call()
    except WouldWrite:
        return None
    finally:
        _TRIAL.reset(token)

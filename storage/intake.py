"""The Slack intake: a request is stored in one INSERT before Slack gets its acknowledgement, and a
worker runs its workflow afterwards, so the acknowledgement does not wait for the workflow.

A row is claimable by one rule, checked inside the claiming ``UPDATE`` itself, so two workers (or
two replicas) never both run it:

- never tried (``pending`` with no attempt): the process that received it claims it at once, and a
  process starting after a crash replays it;
- or its ``due_at`` has passed: a ``running`` row whose worker's lease ran out (the process died), or
  a ``pending`` row waiting for its retry after a failed attempt.

A workflow is itself safe to run twice (request keys, outbox keys), so a worker dying between the
workflow's commit and ``finish`` costs a second run that changes nothing; the reply and ``finish``
share one transaction, so a finished row's reply is queued and an unfinished row's is not lost.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models.intake import IntakeRequest

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
OPEN = (PENDING, RUNNING)
LEASE = timedelta(seconds=60)
"""How long a worker holds a request: far above any workflow's run, and the wait before the request
of a process that died while running it is run again."""
RETRY_AFTER = (timedelta(seconds=5), timedelta(seconds=30))
"""Waits before the second and third attempt of a request whose worker failed outside the workflow
(the database away, Slack unreachable for the person's profile); after the third it is given up."""
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
KEEP_DONE = timedelta(hours=1)
"""How long a done request stays: well past Slack's retries (within 5 minutes), whose key it catches."""
KEEP_FAILED = timedelta(days=30)
"""How long a failed request stays, with its error, for whoever follows up its ERR- reference."""
PRUNE_BATCH = 5000


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    """Attempts including this one."""

    @property
    def last(self) -> bool:
        return self.attempts >= MAX_ATTEMPTS


def _receiving(dialect: str) -> Any:
    """The INSERT of ``receive``, built once per dialect (it runs for every acknowledged request, and
    building the statement cost more CPU than sending it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(IntakeRequest)
        .values(
            key=bindparam("key"),
            kind=bindparam("kind"),
            payload=bindparam("payload"),
            received_at=bindparam("now"),
            status=PENDING,
            attempts=0,
            due_at=bindparam("due"),
        )
        .on_conflict_do_nothing(index_elements=[IntakeRequest.key])
        .returning(IntakeRequest.id)
    )


_RECEIVING = {dialect: _receiving(dialect) for dialect in ("postgresql", "sqlite")}


def receive(engine: Engine, *, key: str, kind: str, payload: Mapping[str, Any], now: datetime) -> int | None:
    """Store a request in one statement and commit; its id, or None when ``key`` is stored already
    (a Slack retry, or the same click twice)."""
    statement = _RECEIVING[engine.dialect.name]
    values = {"key": key[:200], "kind": kind, "payload": dict(payload), "now": now, "due": now}
    if engine.dialect.name == "sqlite":  # in process: a BEGIN and COMMIT cost no round trip, and the
        with engine.begin() as connection:  # writers' queue (storage/db.py) is entered at BEGIN
            return connection.execute(statement, values).scalar()
    # PostgreSQL, autocommit: the INSERT is its own transaction, one round trip (no BEGIN, no COMMIT).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, values).scalar()


def _claimable(now: datetime) -> Any:
    return or_(
        and_(IntakeRequest.status == PENDING, IntakeRequest.attempts == 0),
        and_(IntakeRequest.status.in_(OPEN), IntakeRequest.due_at <= now),
    )


def claim(session: Session, request_ids: Collection[int], now: datetime, lease: timedelta = LEASE) -> list[Claimed]:
    """Take requests for one attempt each, in one statement; those done, failed, or held by another
    worker are left out. Oldest first."""
    rows = session.execute(
        update(IntakeRequest)
        .where(IntakeRequest.id.in_(request_ids), _claimable(now))
        .values(status=RUNNING, attempts=IntakeRequest.attempts + 1, due_at=now + lease)
        .returning(
            IntakeRequest.id, IntakeRequest.key, IntakeRequest.kind, IntakeRequest.payload, IntakeRequest.attempts
        )
    ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda claimed: claimed.id)


def finish(session: Session, request_id: int, now: datetime, *, error: str | None = None) -> None:
    """Mark the request done (its reply queued in the same transaction), or failed with ``error``."""
    session.execute(
        update(IntakeRequest)
        .where(IntakeRequest.id == request_id)
        .values(status=FAILED if error else DONE, finished_at=now, due_at=None, error=error)
    )


def retry_later(session: Session, request: Claimed, now: datetime, error: str) -> datetime:
    """Put a request whose attempt failed back, due after the attempt's wait; when it is due."""
    due = now + RETRY_AFTER[min(request.attempts, len(RETRY_AFTER)) - 1]
    session.execute(
        update(IntakeRequest)
        .where(IntakeRequest.id == request.id)
        .values(status=PENDING, due_at=due, error=error[:2000])
    )
    return due


def claimable(session: Session, now: datetime, *, limit: int, besides: Collection[int] = ()) -> list[int]:
    """Ids of requests a worker may claim now (oldest first), leaving out ``besides`` (those this
    process holds already)."""
    query = select(IntakeRequest.id).where(_claimable(now)).order_by(IntakeRequest.id).limit(limit + len(besides))
    held = set(besides)
    return [found for found in session.scalars(query) if found not in held][:limit]


def prune(session: Session, now: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete up to ``limit`` requests done more than ``KEEP_DONE`` or failed more than ``KEEP_FAILED``
    ago (run by the scheduler's tick); how many."""
    old = (
        select(IntakeRequest.id)
        .where(
            IntakeRequest.finished_at < now - KEEP_DONE,
            or_(IntakeRequest.status == DONE, IntakeRequest.finished_at < now - KEEP_FAILED),
        )
        .order_by(IntakeRequest.finished_at)
        .limit(limit)
    )
    result = session.execute(delete(IntakeRequest).where(IntakeRequest.id.in_(old.scalar_subquery())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Health:
    """What ``/isms status`` tells overseers about the intake: requests waiting for a worker (new or
    between attempts), held by one, and failed for good since ``since``, with the newest failure's
    ``ERR-`` reference (the one the person was given, to find in the log)."""

    waiting: int
    running: int
    failed: int
    newest_failure: str | None


def health(session: Session, since: datetime) -> Health:
    """The counts of ``Health``: one grouped count over the open rows and the recent failures."""
    recent_failure = and_(IntakeRequest.status == FAILED, IntakeRequest.finished_at >= since)
    counted = dict(
        session.execute(
            select(IntakeRequest.status, func.count())
            .where(or_(IntakeRequest.status.in_(OPEN), recent_failure))
            .group_by(IntakeRequest.status)
        ).all()
    )
    newest = None
    if counted.get(FAILED):
        error = session.scalar(
            select(IntakeRequest.error).where(recent_failure).order_by(IntakeRequest.finished_at.desc()).limit(1)
        )
        newest = (error or "").split(":", 1)[0] or None
    return Health(counted.get(PENDING, 0), counted.get(RUNNING, 0), counted.get(FAILED, 0), newest)

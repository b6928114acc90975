"""The outbox: outside effects queued with the state change that caused them, sent after commit.

A workflow never calls Slack, Jira or mail itself. It queues an effect in its own transaction, so a
crash, a restart or an outage never loses one. The dispatcher sends due effects through a sender per
kind, retries with exponential backoff and full jitter, honours Retry-After (pausing every effect of
the same service, since throttling is per service, not per message), and parks an effect as ``dead``
after the configured number of attempts, where the ISMS manager sees it.

Senders receive the effect's idempotency key and use it so that a retry does not create twice what the
receiver already has (Jira: look the issue up by its label first; Slack: the key rides in the message's
metadata and is looked up before a post whose earlier attempt may have landed).

Claiming and marking are cheap: one ``UPDATE ... RETURNING`` claims a batch (on PostgreSQL over rows
picked with ``FOR UPDATE SKIP LOCKED``, so several dispatchers share the table), and the outcomes of a
batch are written a few dozen at a time in one transaction. A claim is a short lease renewed by a
heartbeat while its dispatcher works, so the effects of a dispatcher that died go out again within
seconds. An effect whose attempt may have reached the receiver without an answer (a crash between the
call and the mark, a timeout, a 5xx after the receiver acted) carries ``unsure_since``, the start of
that attempt, to the next attempt's sender.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from storage.db import is_postgresql
from storage.models.outbox import OutboxEffect

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"

OUTBOX = cast(Table, OutboxEffect.__table__)


class RetryLater(Exception):
    """The receiver cannot take the effect now (down, throttling, not ready); try again later.

    ``retry_after`` (seconds) comes from the receiver, e.g. a 429's Retry-After header. It pauses
    every effect whose kind starts with the same service prefix (``slack.``, ``jira.``).
    ``maybe_delivered`` says whether the receiver may have acted on the attempt all the same (a 5xx
    after posting, a timeout, a dropped connection); a sender passes ``False`` only when it knows the
    receiver did nothing (a 429, a refused connection, a precondition not met), which spares the next
    attempt a look-up.
    """

    def __init__(self, reason: str, retry_after: float | None = None, *, maybe_delivered: bool = True):
        super().__init__(reason)
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class Undeliverable(Exception):
    """The receiver refused the effect for good (bad channel, unknown user): no retry will help."""


@dataclass(frozen=True)
class Effect:
    """What a sender gets: the effect, and a way to read the results of earlier effects.

    ``result_of(key)`` lets a message be threaded under, or replace, an earlier message whose Slack
    timestamp is only known once that earlier effect was sent. ``unsure_since`` is set when an earlier
    attempt may have reached the receiver without us learning its outcome: the start of the earliest
    such attempt. A sender that can ask the receiver looks for what that attempt left before sending.
    """

    kind: str
    key: str
    payload: Mapping[str, Any]
    attempt: int
    result_of: Callable[[str], Mapping[str, Any] | None]
    unsure_since: datetime | None = None
    progress: Mapping[str, Any] | None = None
    """What an earlier attempt of a multi-step effect saved with ``save`` (None on the first attempt)."""
    save: Callable[[Mapping[str, Any]], None] = lambda progress: None
    """Store progress at once, in its own transaction, so the next attempt (after a failure, or on
    another dispatcher after a crash) resumes there instead of repeating a step the receiver already
    took: e.g. the file id of an upload whose bytes Slack holds, before the step that shares it."""


Sender = Callable[[Effect], Mapping[str, Any] | None]


def enqueue(session: Session, *, kind: str, key: str, payload: Mapping[str, Any], now: datetime) -> bool:
    """Queue an effect in the caller's transaction; an effect with the same key is queued only once."""
    return enqueue_many(session, {key: (kind, payload)}, now) == 1


def enqueue_many(session: Session, effects: Mapping[str, tuple[str, Mapping[str, Any]]], now: datetime) -> int:
    """Queue effects (key -> (kind, payload)) in the caller's transaction, skipping keys already queued;
    returns how many were new. One multi-row insert that leaves existing keys alone (``ON CONFLICT DO
    NOTHING``), so two transactions queueing the same key at once (a Slack retry racing the original)
    never fail: the second simply queues nothing."""
    if not effects:
        return 0
    rows = [
        {
            "kind": kind,
            "key": key,
            "payload": dict(payload),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for key, (kind, payload) in effects.items()
    ]
    insert = postgresql.insert if is_postgresql(session) else sqlite.insert
    statement = insert(OutboxEffect).on_conflict_do_nothing(index_elements=[OutboxEffect.key])
    # RETURNING makes SQLAlchemy send multi-row VALUES (its "insertmanyvalues") instead of one
    # statement per row, and counts the rows that were new.
    return len(session.execute(statement.returning(OutboxEffect.id), rows).all())


SHORT_PAUSE = 1.0
"""Seconds of Retry-After a sender waits out in place; a longer pause releases the claimed effects."""

LEASE = timedelta(seconds=15)
"""How long a claim lasts without a heartbeat: the wait before a dead dispatcher's effects go out again."""

MARK_BATCH = 64
"""Outcomes written in one transaction at most."""

MARK_DELAY = 0.25
"""Seconds an outcome may wait in memory for others to share its transaction."""


def service_of(kind: str) -> str:
    return kind.split(".", 1)[0]


@dataclass(frozen=True)
class Claimed:
    """An effect this dispatcher claimed: what to send, how often it was tried before, when the claim
    began, and since when an earlier attempt's outcome is unknown (if it is)."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    claimed_at: datetime | None = None
    unsure_since: datetime | None = None
    progress: dict[str, Any] | None = None


def _conversation(kind: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """What must stay in order: a replaced message, a thread, a recipient; else the whole service."""
    target = payload.get("replaces") or payload.get("thread_of") or payload.get("to") or ""
    return service_of(kind), str(target)


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog's recommendation)."""

    base: float = 2.0
    cap: float = 600.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** max(attempts - 1, 0))))


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


# One statement per kind of outcome, executed for many rows at once (executemany).
_MARK_SENT = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("m_id"))
    .values(
        status=SENT,
        attempts=bindparam("m_attempts"),
        result=bindparam("m_result"),
        sent_at=bindparam("m_at"),
        claimed_until=None,
        last_error=None,
        unsure_since=None,
    )
)
_MARK_FAILED = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("m_id"))
    .values(
        status=bindparam("m_status"),
        attempts=bindparam("m_attempts"),
        last_error=bindparam("m_error"),
        next_attempt_at=bindparam("m_next"),
        claimed_until=None,
        unsure_since=bindparam("m_unsure"),
    )
)
_MARK_RELEASED = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("m_id"), OUTBOX.c.status == SENDING)
    .values(status=PENDING, claimed_until=None, next_attempt_at=bindparam("m_next"))
)
_MARKS = {"sent": _MARK_SENT, "failed": _MARK_FAILED, "released": _MARK_RELEASED}


@dataclass(frozen=True)
class _Mark:
    what: str  # "sent", "failed" or "released"
    id: int
    key: str
    values: dict[str, Any]
    dead: bool = False


class Dispatcher:
    """Sends due effects. Several dispatchers (threads or replicas) may share one table."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Mapping[str, Sender],
        clock: Callable[[], datetime],
        *,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        lease: timedelta = LEASE,
        heartbeat: float | None = None,
        on_dead: Callable[[OutboxEffect], None] | None = None,
        rates: Mapping[str, float] | None = None,
        concurrency: int = 1,
    ):
        """``rates`` (sends per second by service, e.g. ``{"chat": 50}``) paces sending on this side,
        so a fan-out stays just under the receiver's limit instead of bouncing off its 429s.
        ``concurrency`` sends that many conversations at once: with a receiver a network round trip
        away, one at a time cannot reach its rate limit. ``lease`` is how long a claim lasts unless
        renewed; ``heartbeat`` (real seconds, default a third of the lease) is how often this
        dispatcher renews the claims it is still working on."""
        self._sessions = sessions
        self._senders = dict(senders)
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._lease = lease
        self._heartbeat_every = heartbeat if heartbeat is not None else lease.total_seconds() / 3
        self._on_dead = on_dead
        self._paused: dict[str, datetime] = {}
        self._wake = threading.Event()
        self._rates = {service: rate for service, rate in (rates or {}).items() if rate > 0}
        self._next_slot: dict[str, float] = {}
        self._pacing = threading.Lock()
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="outbox-send") if concurrency > 1 else None
        self._marking = threading.Lock()
        self._marks: list[_Mark] = []
        self._first_mark_at = 0.0
        self._unmarked: dict[str, Mapping[str, Any]] = {}  # results sent but not yet written
        self._held: set[int] = set()  # claimed by this dispatcher and not yet marked

    def wake(self) -> None:
        """Called after a commit that queued effects, so they go out without waiting for a poll."""
        self._wake.set()

    # -- claiming ------------------------------------------------------------

    def _claim(self, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` due effects in one statement, oldest first.

        A row still ``sending`` whose claim expired belonged to a dispatcher that died mid-attempt:
        its attempt may have reached the receiver, so the claim keeps when that attempt began in
        ``unsure_since``.
        """
        now = self._clock()
        paused = [service for service, until in self._paused.items() if until > now]
        due = (
            select(OUTBOX.c.id)
            .where(
                OUTBOX.c.kind.in_(self._senders),
                or_(
                    (OUTBOX.c.status == PENDING) & (OUTBOX.c.next_attempt_at <= now),
                    (OUTBOX.c.status == SENDING) & (OUTBOX.c.claimed_until <= now),
                ),
            )
            .order_by(OUTBOX.c.id)
            .limit(limit)
        )
        for service in paused:
            due = due.where(~OUTBOX.c.kind.startswith(service + "."))
        with self._sessions.begin() as session:
            if is_postgresql(session):
                # Materialised, so the rows picked (and locked) are exactly the rows updated.
                picked = due.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
            else:
                picked = due.cte("picked")  # SQLite: the writer holds the database's only write lock
            claim = (
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(select(picked.c.id)))
                .values(
                    status=SENDING,
                    claimed_at=now,
                    claimed_until=now + self._lease,
                    unsure_since=case(
                        (
                            OUTBOX.c.status == SENDING,
                            func.coalesce(OUTBOX.c.unsure_since, OUTBOX.c.claimed_at, OUTBOX.c.created_at),
                        ),
                        else_=OUTBOX.c.unsure_since,
                    ),
                )
                .returning(
                    OUTBOX.c.id,
                    OUTBOX.c.kind,
                    OUTBOX.c.key,
                    OUTBOX.c.payload,
                    OUTBOX.c.attempts,
                    OUTBOX.c.unsure_since,
                    OUTBOX.c.result,
                )
            )
            rows = session.execute(claim).all()
        claimed = sorted(
            (
                Claimed(row.id, row.kind, row.key, dict(row.payload), row.attempts, now, row.unsure_since, row.result)
                for row in rows
            ),
            key=lambda item: item.id,
        )
        with self._marking:
            self._held.update(item.id for item in claimed)
        return claimed

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """Renew this dispatcher's claims while it works, so a short lease never expires under it."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self._heartbeat_every):
                try:
                    self._renew()
                except Exception:  # the database is away: the claims may lapse and be taken over
                    log.exception("renewing the outbox claims failed")

        thread = threading.Thread(target=beat, name="outbox-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _renew(self) -> None:
        with self._marking:
            held = sorted(self._held)
        if not held:
            return
        with self._sessions.begin() as session:
            session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(held), OUTBOX.c.status == SENDING)
                .values(claimed_until=self._clock() + self._lease)
            )

    def _save(self, effect_id: int, progress: Mapping[str, Any]) -> None:
        """A sender's progress on a claimed effect, kept in its ``result`` until the final result
        replaces it (``_result_of`` reads results of sent effects only, so progress is never taken
        for one)."""
        with self._sessions.begin() as session:
            session.execute(
                update(OUTBOX).where(OUTBOX.c.id == effect_id, OUTBOX.c.status == SENDING).values(result=dict(progress))
            )

    def _result_of(self, key: str) -> Mapping[str, Any] | None:
        with self._marking:
            result = self._unmarked.get(key)
        if result is not None:
            return result
        with self._sessions() as session:
            row = session.execute(select(OUTBOX.c.status, OUTBOX.c.result).where(OUTBOX.c.key == key)).first()
        return row.result if row is not None and row.status == SENT else None

    # -- sending -------------------------------------------------------------

    def run_once(self, limit: int = 100) -> DispatchReport:
        """Claim up to ``limit`` due effects and try each once.

        With ``concurrency`` above 1, effects of different conversations are sent in parallel; the
        effects of one conversation (same recipient, thread or replaced message) keep their order,
        and so does every effect that names no conversation (e.g. all tracker effects).
        """
        if self._rates:  # paced sending must finish a claimed batch well within the claim's lease
            limit = min(limit, max(1, int(min(self._rates.values()) * self._lease.total_seconds() / 2)))
        claimed = self._claim(limit)
        if not claimed:
            self._flush()  # outcomes a failed flush left behind
            return DispatchReport()
        try:
            with self._heartbeat():
                if self._pool is None or len(claimed) <= 1:
                    reports = [self._send(item) for item in claimed]
                else:
                    groups: dict[tuple[str, str], list[Claimed]] = {}
                    for item in claimed:
                        groups.setdefault(_conversation(item.kind, item.payload), []).append(item)
                    batches = self._pool.map(lambda group: [self._send(item) for item in group], groups.values())
                    reports = [report for batch in batches for report in batch]
        finally:
            self._flush()
        return DispatchReport(
            sum(r.sent for r in reports), sum(r.retried for r in reports), sum(r.dead for r in reports)
        )

    def _send(self, item: Claimed) -> DispatchReport:
        effect_id, kind, key, attempts = item.id, item.kind, item.key, item.attempts
        if self._is_paused(kind):
            left = self._pause_left(kind)
            if left >= SHORT_PAUSE:
                self._mark(_Mark("released", effect_id, key, {"m_next": self._paused[service_of(kind)]}))
                return DispatchReport()
            time.sleep(left)  # a fraction of a second: cheaper to wait than to release and claim again
        self._pace(service_of(kind))
        effect = Effect(
            kind,
            key,
            item.payload,
            attempts + 1,
            self._result_of,
            item.unsure_since,
            item.progress,
            lambda progress: self._save(effect_id, progress),
        )
        try:
            result = self._senders[kind](effect)
        except RetryLater as error:
            if error.retry_after is not None:
                self._paused[service_of(kind)] = self._clock() + timedelta(seconds=error.retry_after)
                self._hold(service_of(kind), error.retry_after)
            dead = self._fail(item, attempts + 1, str(error), error.retry_after, error.maybe_delivered)
            return DispatchReport(retried=1, dead=dead)
        except Undeliverable as error:
            return DispatchReport(dead=self._fail(item, self._max_attempts, f"undeliverable: {error}", None, False))
        except Exception as error:  # a sender bug or an unexpected answer: retry, never lose
            log.exception("sending %s %s failed", kind, key)
            failure = f"{type(error).__name__}: {error}"
            return DispatchReport(retried=1, dead=self._fail(item, attempts + 1, failure, None, True))
        result = dict(result) if result else {}
        with self._marking:
            self._unmarked[key] = result
        values = {"m_attempts": attempts + 1, "m_result": result, "m_at": self._clock()}
        self._mark(_Mark("sent", effect_id, key, values))
        return DispatchReport(sent=1)

    def _pace(self, service: str) -> None:
        """Wait for this service's next sending slot (a token bucket without burst), in real time."""
        rate = self._rates.get(service)
        if rate is None:
            return
        with self._pacing:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(service, now))
            self._next_slot[service] = slot + 1 / rate
        if slot > now:
            time.sleep(slot - now)

    def _hold(self, service: str, seconds: float) -> None:
        """After a 429 the receiver's bucket is empty: start pacing again from when it refills."""
        if service in self._rates:
            with self._pacing:
                self._next_slot[service] = max(self._next_slot.get(service, 0.0), time.monotonic() + seconds)

    def _pause_left(self, kind: str) -> float:
        until = self._paused.get(service_of(kind))
        return max((until - self._clock()).total_seconds(), 0.0) if until is not None else 0.0

    def _is_paused(self, kind: str) -> bool:
        until = self._paused.get(service_of(kind))
        return until is not None and until > self._clock()

    def _fail(self, item: Claimed, attempts: int, error: str, retry_after: float | None, maybe_delivered: bool) -> int:
        # Throttling (a Retry-After) is the receiver saying "later", not a failure: it never parks
        # an effect, so a long fan-out against a strict rate limit loses nothing.
        dead = attempts >= self._max_attempts and retry_after is None
        if dead:
            log.error("outbox effect %s (%s) is dead after %d attempts: %s", item.key, item.kind, attempts, error)
        unsure = item.unsure_since or (item.claimed_at if maybe_delivered else None)
        values = {
            "m_status": DEAD if dead else PENDING,
            "m_attempts": attempts,
            "m_error": error[:2000],
            "m_next": self._clock() + timedelta(seconds=0 if dead else self._backoff.delay(attempts, retry_after)),
            "m_unsure": unsure,
        }
        self._mark(_Mark("failed", item.id, item.key, values, dead=dead))
        return 1 if dead else 0

    # -- marking -------------------------------------------------------------

    def _mark(self, mark: _Mark) -> None:
        """Keep an outcome to write with others; write them once enough are waiting or one waited long."""
        with self._marking:
            if not self._marks:
                self._first_mark_at = time.monotonic()
            self._marks.append(mark)
            due = len(self._marks) >= MARK_BATCH or time.monotonic() - self._first_mark_at >= MARK_DELAY
        if due:
            self._flush()

    def _flush(self) -> None:
        """Write the waiting outcomes in one transaction (one executemany per kind of outcome)."""
        with self._marking:
            marks, self._marks = self._marks, []
        if not marks:
            return
        try:
            self._write(marks)
        except Exception:
            with self._marking:  # keep them for the next flush; the claims stay held and renewed
                self._marks[:0] = marks
                self._first_mark_at = time.monotonic()
            raise
        with self._marking:
            for mark in marks:
                self._held.discard(mark.id)
                self._unmarked.pop(mark.key, None)

    def _write(self, marks: Sequence[_Mark]) -> None:
        with self._sessions.begin() as session:
            connection = session.connection()
            for what, statement in _MARKS.items():
                rows = [{"m_id": mark.id, **mark.values} for mark in marks if mark.what == what]
                if rows:
                    connection.execute(statement, rows)
            if self._on_dead is not None:
                dead = [mark.id for mark in marks if mark.dead]
                for effect in session.scalars(select(OutboxEffect).where(OutboxEffect.id.in_(dead))) if dead else ():
                    self._on_dead(effect)

    def drain(self, limit: int = 100) -> DispatchReport:
        """Send until nothing is due now (used by the console and by tests)."""
        total = DispatchReport()
        while True:
            report = self.run_once(limit)
            total = DispatchReport(total.sent + report.sent, total.retried + report.retried, total.dead + report.dead)
            if report.sent + report.retried + report.dead == 0:
                return total

    def run_forever(self, stop: threading.Event, idle: float = 1.0) -> None:
        """Background loop for ``serve``/``socket``: send what is due, sleep until woken or ``idle``
        (or until a service's Retry-After pause ends, if that is sooner)."""
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                log.exception("outbox dispatcher pass failed; retrying")
                report = DispatchReport()
            if report.sent + report.retried + report.dead == 0:
                self._wake.wait(self._idle_wait(idle))
                self._wake.clear()

    def _idle_wait(self, idle: float) -> float:
        now = self._clock()
        ends = [(until - now).total_seconds() for until in self._paused.values() if until > now]
        return min([idle, *ends])


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxEffect.status, func.count()).group_by(OutboxEffect.status))
    return {status: count for status, count in rows}


def dead_effects(session: Session, limit: int = 20) -> list[OutboxEffect]:
    return list(
        session.scalars(
            select(OutboxEffect).where(OutboxEffect.status == DEAD).order_by(OutboxEffect.id.desc()).limit(limit)
        )
    )

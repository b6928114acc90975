"""The outbox: outside effects queued with the state change that caused them, sent after commit.

A workflow never calls Slack, Jira or mail itself. It queues an effect in its own transaction, so a
crash, a restart or an outage never loses one. The dispatcher sends due effects through a sender per
kind, retries with exponential backoff and full jitter, honours Retry-After (pausing every effect of
the same service, since throttling is per service, not per message), and parks an effect as ``dead``
after the configured number of attempts, where the ISMS manager sees it.

Senders receive the effect's idempotency key and use it so that a retry does not create twice what the
receiver already has (Jira: look the issue up by its label first).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import is_postgresql
from storage.models.outbox import OutboxEffect

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


class RetryLater(Exception):
    """The receiver cannot take the effect now (down, throttling, not ready); try again later.

    ``retry_after`` (seconds) comes from the receiver, e.g. a 429's Retry-After header. It pauses
    every effect whose kind starts with the same service prefix (``slack.``, ``jira.``).
    """

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class Undeliverable(Exception):
    """The receiver refused the effect for good (bad channel, unknown user): no retry will help."""


@dataclass(frozen=True)
class Effect:
    """What a sender gets: the effect, and a way to read the results of earlier effects.

    ``result_of(key)`` lets a message be threaded under, or replace, an earlier message whose Slack
    timestamp is only known once that earlier effect was sent.
    """

    kind: str
    key: str
    payload: Mapping[str, Any]
    attempt: int
    result_of: Callable[[str], Mapping[str, Any] | None]


Sender = Callable[[Effect], Mapping[str, Any] | None]


def enqueue(session: Session, *, kind: str, key: str, payload: Mapping[str, Any], now: datetime) -> bool:
    """Queue an effect in the caller's transaction; an effect with the same key is queued only once."""
    if session.scalar(select(OutboxEffect.id).where(OutboxEffect.key == key)) is not None:
        return False
    session.add(
        OutboxEffect(
            kind=kind,
            key=key,
            payload=dict(payload),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


SHORT_PAUSE = 1.0
"""Seconds of Retry-After a sender waits out in place; a longer pause releases the claimed effects."""


def service_of(kind: str) -> str:
    return kind.split(".", 1)[0]


@dataclass(frozen=True)
class Claimed:
    """An effect this dispatcher claimed: what to send, and how often it was tried before."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


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
        lease: timedelta = timedelta(minutes=2),
        on_dead: Callable[[OutboxEffect], None] | None = None,
        rates: Mapping[str, float] | None = None,
        concurrency: int = 1,
    ):
        """``rates`` (sends per second by service, e.g. ``{"chat": 50}``) paces sending on this side,
        so a fan-out stays just under the receiver's limit instead of bouncing off its 429s.
        ``concurrency`` sends that many conversations at once: with a receiver a network round trip
        away, one at a time cannot reach its rate limit."""
        self._sessions = sessions
        self._senders = dict(senders)
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._lease = lease
        self._on_dead = on_dead
        self._paused: dict[str, datetime] = {}
        self._wake = threading.Event()
        self._rates = {service: rate for service, rate in (rates or {}).items() if rate > 0}
        self._next_slot: dict[str, float] = {}
        self._pacing = threading.Lock()
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="outbox-send") if concurrency > 1 else None

    def wake(self) -> None:
        """Called after a commit that queued effects, so they go out without waiting for a poll."""
        self._wake.set()

    def _claim(self, limit: int) -> list[Claimed]:
        now = self._clock()
        paused = [service for service, until in self._paused.items() if until > now]
        with self._sessions.begin() as session:
            query = (
                select(OutboxEffect)
                .where(
                    OutboxEffect.kind.in_(self._senders),
                    or_(
                        (OutboxEffect.status == PENDING) & (OutboxEffect.next_attempt_at <= now),
                        (OutboxEffect.status == SENDING) & (OutboxEffect.claimed_until <= now),
                    ),
                )
                .order_by(OutboxEffect.id)
                .limit(limit)
            )
            for service in paused:
                query = query.where(~OutboxEffect.kind.startswith(service + "."))
            if is_postgresql(session):
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for effect in session.scalars(query):
                effect.status = SENDING
                effect.claimed_until = now + self._lease
                claimed.append(Claimed(effect.id, effect.kind, effect.key, dict(effect.payload), effect.attempts))
            return claimed

    def _result_of(self, key: str) -> Mapping[str, Any] | None:
        with self._sessions() as session:
            row = session.execute(
                select(OutboxEffect.status, OutboxEffect.result).where(OutboxEffect.key == key)
            ).first()
        return row.result if row is not None and row.status == SENT else None

    def run_once(self, limit: int = 100) -> DispatchReport:
        """Claim up to ``limit`` due effects and try each once.

        With ``concurrency`` above 1, effects of different conversations are sent in parallel; the
        effects of one conversation (same recipient, thread or replaced message) keep their order,
        and so does every effect that names no conversation (e.g. all tracker effects).
        """
        if self._rates:  # paced sending must finish a claimed batch well within the claim's lease
            limit = min(limit, max(1, int(min(self._rates.values()) * self._lease.total_seconds() / 2)))
        claimed = self._claim(limit)
        if self._pool is None or len(claimed) <= 1:
            reports = [self._send(item) for item in claimed]
        else:
            groups: dict[tuple[str, str], list[Claimed]] = {}
            for item in claimed:
                groups.setdefault(_conversation(item.kind, item.payload), []).append(item)
            batches = self._pool.map(lambda group: [self._send(item) for item in group], groups.values())
            reports = [report for batch in batches for report in batch]
        return DispatchReport(
            sum(r.sent for r in reports), sum(r.retried for r in reports), sum(r.dead for r in reports)
        )

    def _send(self, item: Claimed) -> DispatchReport:
        effect_id, kind, key, attempts = item.id, item.kind, item.key, item.attempts
        if self._is_paused(kind):
            left = self._pause_left(kind)
            if left >= SHORT_PAUSE:
                self._release(effect_id)
                return DispatchReport()
            time.sleep(left)  # a fraction of a second: cheaper to wait than to release and claim again
        self._pace(service_of(kind))
        effect = Effect(kind, key, item.payload, attempts + 1, self._result_of)
        try:
            result = self._senders[kind](effect)
        except RetryLater as error:
            if error.retry_after is not None:
                self._paused[service_of(kind)] = self._clock() + timedelta(seconds=error.retry_after)
                self._hold(service_of(kind), error.retry_after)
            return DispatchReport(retried=1, dead=self._fail(effect_id, attempts + 1, str(error), error.retry_after))
        except Undeliverable as error:
            return DispatchReport(dead=self._fail(effect_id, self._max_attempts, f"undeliverable: {error}", None))
        except Exception as error:  # a sender bug or an unexpected answer: retry, never lose
            log.exception("sending %s %s failed", kind, key)
            failure = f"{type(error).__name__}: {error}"
            return DispatchReport(retried=1, dead=self._fail(effect_id, attempts + 1, failure, None))
        self._succeed(effect_id, result)
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

    def _release(self, effect_id: int) -> None:
        with self._sessions.begin() as session:
            effect = session.get(OutboxEffect, effect_id)
            if effect is not None and effect.status == SENDING:
                effect.status = PENDING
                effect.claimed_until = None
                effect.next_attempt_at = self._paused[service_of(effect.kind)]

    def _succeed(self, effect_id: int, result: Mapping[str, Any] | None) -> None:
        with self._sessions.begin() as session:
            effect = session.get(OutboxEffect, effect_id)
            assert effect is not None
            effect.status = SENT
            effect.attempts += 1
            effect.result = dict(result) if result else {}
            effect.sent_at = self._clock()
            effect.claimed_until = None
            effect.last_error = None

    def _fail(self, effect_id: int, attempts: int, error: str, retry_after: float | None) -> int:
        with self._sessions.begin() as session:
            effect = session.get(OutboxEffect, effect_id)
            assert effect is not None
            effect.attempts = attempts
            effect.last_error = error[:2000]
            effect.claimed_until = None
            # Throttling (a Retry-After) is the receiver saying "later", not a failure: it never parks
            # an effect, so a long fan-out against a strict rate limit loses nothing.
            if attempts >= self._max_attempts and retry_after is None:
                effect.status = DEAD
                log.error(
                    "outbox effect %s (%s) is dead after %d attempts: %s", effect.key, effect.kind, attempts, error
                )
                if self._on_dead is not None:
                    self._on_dead(effect)
                return 1
            effect.status = PENDING
            effect.next_attempt_at = self._clock() + timedelta(seconds=self._backoff.delay(attempts, retry_after))
            return 0

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

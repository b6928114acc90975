"""The scheduler: APScheduler 3.x on the bot's database, active in exactly one process at a time.

APScheduler keeps a small fixed job set in its SQLAlchemy job store: ``tick`` (every minute, the
due work named by every process descriptor in workflows/registry.py) and ``timezones`` (refresh
Slack timezones for quiet hours). What is due, and when, lives in our own tables, so each tick is idempotent and
catches up by itself after downtime; that is also why ``misfire_grace_time`` is None (a late tick
is always useful) with ``coalesce`` (however many runs were missed, one runs).

APScheduler 3.x must not share a job store between two running schedulers, so only the elected
leader runs one. On PostgreSQL the leader holds a session advisory lock on a dedicated connection
(released by the server the moment the process or its connection dies); elsewhere it holds a lease
row that it renews and that expires when it stops renewing. Every process re-checks leadership
periodically: a standby takes over when the leader is gone, and a leader that lost its lock stops
its APScheduler before doing anything else. Each tick re-checks too, so a leader that was paused
(and replaced) never runs a tick on stale authority.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from storage import deliveries, intake
from storage.db import is_postgresql, make_engine, make_sessions
from storage.models.scheduler import SchedulerLease
from workflows.kernel.process import run_due_work
from workflows.kernel.timezones import TimezoneLookup, refresh_timezones
from workflows.kernel.work import Context

log = logging.getLogger(__name__)
# APScheduler logs every run of every job at INFO: two lines a minute of noise. Its warnings (a run
# missed or skipped) stay visible.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

JOBS_TABLE = "apscheduler_jobs"
ADVISORY_KEY = 0x15A5_0004
"""Arbitrary constant naming the PostgreSQL advisory lock of the scheduler (records use 0x15A5_0001)."""
TIMEZONE_REFRESH = timedelta(hours=6)


def _real_now() -> datetime:
    """Leases follow real time even when workflows run on a test clock: they guard real processes."""
    return datetime.now(UTC)


class Leadership(Protocol):
    def claim(self) -> bool:
        """Become or stay the leader; False if another process is."""

    def holds(self) -> bool:
        """Still the leader? Never takes over: only the election does that."""

    def release(self) -> None:
        """Step down so a standby can take over at once."""


class LeaseLeadership:
    """A row naming the leader until ``expires_at``; the leader renews it, anybody takes an expired one."""

    def __init__(
        self,
        engine: Engine,
        holder: str,
        ttl: timedelta = timedelta(seconds=30),
        name: str = "scheduler",
        now: Callable[[], datetime] = _real_now,
    ):
        self._sessions = make_sessions(engine)
        self._holder, self._ttl, self._name, self._now = holder, ttl, name, now

    def claim(self) -> bool:
        return self._renew(take_over=True)

    def holds(self) -> bool:
        return self._renew(take_over=False)

    def _renew(self, take_over: bool) -> bool:
        now = self._now()
        with self._sessions.begin() as session:
            lease = session.get(SchedulerLease, self._name, with_for_update=True)
            if lease is None:
                if not take_over:
                    return False
                try:
                    with session.begin_nested():
                        session.add(SchedulerLease(name=self._name, holder=self._holder, expires_at=now + self._ttl))
                except IntegrityError:
                    return False  # another process inserted it a moment ago
                return True
            if lease.holder != self._holder and (lease.expires_at > now or not take_over):
                return False
            lease.holder, lease.expires_at = self._holder, now + self._ttl
            return True

    def release(self) -> None:
        with self._sessions.begin() as session:
            lease = session.get(SchedulerLease, self._name, with_for_update=True)
            if lease is not None and lease.holder == self._holder:
                lease.expires_at = self._now()


class AdvisoryLockLeadership:
    """A PostgreSQL session advisory lock held on a connection of its own.

    The connection comes from a pool-less engine: closing it really closes the session, and a
    crashed process's lock is released by the server when its connection drops.
    """

    def __init__(self, engine: Engine, key: int = ADVISORY_KEY):
        self._engine = make_engine(engine.url.render_as_string(hide_password=False), poolclass=NullPool)
        self._key = key
        self._connection: Connection | None = None
        self._guard = threading.Lock()

    def claim(self) -> bool:
        with self._guard:
            if self._connection is not None:
                return self._still_held(self._connection)
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}):
                    self._connection = connection
                    return True
            except Exception:
                log.exception("could not ask PostgreSQL for the scheduler lock")
            connection.close()
            return False

    def holds(self) -> bool:
        with self._guard:
            return self._connection is not None and self._still_held(self._connection)

    def _still_held(self, connection: Connection) -> bool:
        try:
            held = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                    "AND granted AND classid = :high AND objid = :low"
                ),
                {"high": self._key >> 32, "low": self._key & 0xFFFFFFFF},
            )
            if held:
                return True
            log.error("the scheduler lock is no longer held by this session")
        except Exception as error:
            log.error("lost the connection holding the scheduler lock: %s", type(error).__name__)
        self._close()
        return False

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                self._connection.invalidate()
            self._connection = None

    def release(self) -> None:
        with self._guard:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                except Exception:
                    log.warning("could not unlock the scheduler lock; closing its connection releases it")
                self._close()
        self._engine.dispose()


def leadership_for(engine: Engine, holder: str, lease: timedelta = timedelta(seconds=30)) -> Leadership:
    return AdvisoryLockLeadership(engine) if is_postgresql(engine) else LeaseLeadership(engine, holder, lease)


# APScheduler pickles each job with a reference to a module-level function; the Context cannot be
# pickled, so the job names its database and the leader of this process is looked up here.
_LEADERS: dict[str, BotScheduler] = {}
_LEADERS_GUARD = threading.Lock()


def scheduled_tick(database: str) -> None:
    with _LEADERS_GUARD:
        scheduler = _LEADERS.get(database)
    if scheduler is not None:
        scheduler.tick()


def scheduled_timezones(database: str) -> None:
    with _LEADERS_GUARD:
        scheduler = _LEADERS.get(database)
    if scheduler is not None:
        scheduler.refresh_timezones()


class BotScheduler:
    """Leader election plus, while leading, a BackgroundScheduler with the fixed job set."""

    def __init__(
        self,
        ctx: Context,
        engine: Engine,
        *,
        timezones: TimezoneLookup | None = None,
        tick_seconds: float = 60.0,
        recheck_seconds: float = 10.0,
        lease: timedelta = timedelta(seconds=30),
    ):
        """``lease`` is how long a SQLite leader's claim lasts without renewal; keep it well above
        ``recheck_seconds``, the interval of renewal and of a standby's attempts to take over."""
        self.ctx = ctx
        self.engine = engine
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.database = engine.url.render_as_string(hide_password=True)
        self._timezones = timezones
        self._tick_seconds = tick_seconds
        self._recheck_seconds = recheck_seconds
        self._leadership = leadership_for(engine, self.holder, lease)
        self._aps: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.RLock()
        self.ticks = 0

    @property
    def is_leader(self) -> bool:
        return self._aps is not None

    # -- election -------------------------------------------------------------------------------
    def start(self) -> BotScheduler:
        """Elect at once (so a lone process leads before it serves), then re-check in the background."""
        try:
            self._elect()
        except Exception:
            log.exception("scheduler election failed at start; the election thread tries again")
        self._thread = threading.Thread(target=self._elector, name="scheduler-election", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._guard:
            self._demote()
            self._leadership.release()

    def _elector(self) -> None:
        while not self._stop.wait(self._recheck_seconds):
            try:
                self._elect()
            except Exception:
                log.exception("scheduler election failed; trying again")

    def _elect(self) -> None:
        with self._guard:
            if self._stop.is_set():
                return
            if self.is_leader:
                if not self._leadership.claim():
                    log.error("scheduler leadership lost; stopping the scheduler here")
                    self._demote()
            elif self._leadership.claim():
                self._promote()

    def _promote(self) -> None:
        with _LEADERS_GUARD:
            _LEADERS[self.database] = self
        aps = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE)},
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        now = _real_now()
        # Explicit ids and replace_existing: a restart rewrites the same two rows instead of adding
        # more; the first run is now, so whatever fell due while no leader ran is caught up at once.
        aps.add_job(
            scheduled_tick,
            "interval",
            seconds=self._tick_seconds,
            id="tick",
            name="due work of every process",
            kwargs={"database": self.database},
            replace_existing=True,
            next_run_time=now,
        )
        aps.add_job(
            scheduled_timezones,
            "interval",
            seconds=TIMEZONE_REFRESH.total_seconds(),
            id="timezones",
            name="Slack timezones for quiet hours",
            kwargs={"database": self.database},
            replace_existing=True,
            next_run_time=now,
        )
        aps.start()
        self._aps = aps
        log.info("this process (%s) runs the scheduler", self.holder)

    def _demote(self) -> None:
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=True)
        with _LEADERS_GUARD:
            if _LEADERS.get(self.database) is self:
                del _LEADERS[self.database]

    # -- the work -------------------------------------------------------------------------------
    def tick(self) -> bool:
        """Run the due work of every process if this process leads; returns whether it ran.

        The ``tick`` job calls it, and so do the console, ``isms-bot tick`` and tests. A started
        scheduler only checks its leadership here (taking over is the election's job, so a leader
        that lost its lock cannot grab it back between two ticks); without the election thread
        (console, CLI) the tick claims leadership itself when nobody else holds it.
        """
        leads = self._leadership.holds() if self._thread is not None else self._leadership.claim()
        if not leads:
            log.info("skipping a tick: another process runs the scheduler")
            return False
        run_due_work(self.ctx)
        with self.ctx.sessions.begin() as session:  # Slack retry keys past their window
            deliveries.prune(session, self.ctx.clock())
            intake.prune(session, self.ctx.clock())
        self.ticks += 1
        return True

    def refresh_timezones(self) -> None:
        if self._timezones is not None and self._leadership.holds():
            refresh_timezones(self.ctx, self._timezones)


def ticking_prompt(
    scheduler: BotScheduler, deliver: Callable[[], object], ask: Callable[[str], str] = input
) -> Callable[[str], str]:
    """The console's prompt: run the due work and deliver it before waiting for the next line.

    The console runs no background scheduler: reminders appear between lines instead of in the middle
    of what somebody is typing, and a console next to a running server leaves the ticks to the server
    (``tick`` only runs when no other process leads).
    """

    def prompt(text: str) -> str:
        try:
            if scheduler.tick():
                deliver()
        except Exception:
            log.exception("the console's tick failed; the next line tries again")
        return ask(text)

    return prompt

"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite gets WAL (readers do not block the writer), foreign keys and a busy timeout, and every
writing transaction starts with BEGIN IMMEDIATE: a step reads and then writes, and a deferred SQLite
transaction that upgrades to a writer after another commit fails at once instead of waiting. The
writers of one engine also queue on a lock of this process before BEGIN IMMEDIATE: SQLite's own busy
handler polls with sleeps of up to 100 ms, which under a burst of requests (16 HTTP threads storing
Slack requests beside the intake worker and the outbox) gave acknowledgements tails of seconds. Reads
(lists, status, health) go through ``make_read_sessions`` and begin deferred, so under a burst of
writes they never queue for the write lock. PostgreSQL goes through psycopg 3 with pre-ping so a
restarted server is not an error.
"""

from __future__ import annotations

import threading
from collections import deque

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITING = "isms_holds_the_writer_lock"
READ_ONLY = "isms_read_only"
"""Execution option marking connections that only read (SQLite begins them deferred)."""


def normalise_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and use the psycopg 3 driver for it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, connections: int | None = None, **options: object) -> Engine:
    """Create an engine with the settings this project relies on for the given database.

    ``connections``: threads that may use the database at once (a server's HTTP threads, intake
    workers, dispatcher, scheduler). The pool keeps that many open: with the default of 5, a burst
    opened and closed a connection for most requests (each with its own handshake and pre-ping)."""
    url = normalise_url(url)
    if connections is not None and make_url(url).database not in (None, "", ":memory:"):
        options = {"pool_size": connections, "max_overflow": connections, **options}
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **options)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    writer = _Turns()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):  # as SQLite's own busy timeout would
            raise TimeoutError("no turn to write to the SQLite database within the busy timeout")
        connection.info[_WRITING] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            connection.info.pop(_WRITING, None)
            writer.release()
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection) -> None:  # type: ignore[no-untyped-def]
        try:
            info = connection.info
        except exc.SQLAlchemyError:  # invalidated after an error: ``_give_back`` returned the turn
            return
        if info.pop(_WRITING, False):
            writer.release()

    @event.listens_for(engine, "invalidate")
    @event.listens_for(engine, "checkin")
    def _give_back(_dbapi_connection, record, *_: object) -> None:  # type: ignore[no-untyped-def]
        # a connection invalidated (or back in the pool) without a commit or rollback event must not keep
        # the turn; ``Connection.info`` is its pool record's ``info``
        if record.info.pop(_WRITING, False):
            writer.release()


class _Turns:
    """A lock handed to its waiters in order of arrival: a plain lock lets a thread that just released
    it take it again at once, so a request storing one row could wait behind many workflow writes."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()  # held on, by the next in line
            else:
                self._held = False


def is_postgresql(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they never take the write lock (see the module docstring)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

"""Reads never queue behind writers on SQLite: a list or a health check during a burst of reports."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, text

from storage.db import make_engine, make_read_sessions, make_sessions
from storage.models import Record

# SQLite's write lock, on a SQLite file in both runs (PostgreSQL readers never take one).


def test_a_read_runs_while_a_writer_holds_the_sqlite_write_lock(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        writes, reads = make_sessions(engine), make_read_sessions(engine)
        answers: list[int] = []
        with writes.begin() as writer:
            writer.execute(text("CREATE TABLE IF NOT EXISTS held (x INTEGER)"))  # the write lock is now held

            def read() -> None:
                with reads() as session:
                    answers.append(session.scalar(select(func.count()).select_from(Record)) or 0)

            reader = threading.Thread(target=read)
            reader.start()
            reader.join(timeout=10)
            finished_while_held = not reader.is_alive()
        reader.join()
        assert finished_while_held and answers == [0]
    finally:
        engine.dispose()


def test_a_second_writer_still_waits_for_the_first(sqlite_url):
    """The other half of the rule: writers begin IMMEDIATE, so a read-then-write step never fails on
    an upgrade; it waits its turn."""
    engine = make_engine(sqlite_url)
    try:
        writes = make_sessions(engine)
        order: list[str] = []
        with writes.begin() as first:
            first.execute(text("CREATE TABLE IF NOT EXISTS held (x INTEGER)"))

            def write() -> None:
                with writes.begin() as second:
                    second.execute(text("INSERT INTO held VALUES (1)"))
                    order.append("second")

            writer = threading.Thread(target=write)
            writer.start()
            writer.join(timeout=0.5)
            order.append("first")
        writer.join()
        assert order == ["first", "second"]
    finally:
        engine.dispose()

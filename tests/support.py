"""Test helpers shared by many test modules: a controllable clock and database provisioning."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

T = TypeVar("T")

PROCESS_IDS = {
    "GOV",
    "INC",
    "CHG",
    "REC",
    "POL",
    "REQ",
    "RA",
    "RT",
    "IMP",
    "SUP",
    "AWR",
    "AUD",
    "PERF",
    "IMPR",
    "RES",
    "COM",
    "CRM",
}
"""The 17 process ids of ISO/IEC TS 27022, as organisation files are checked against them."""

POSTGRES_ADMIN_URL = os.environ.get("ISMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class FakeClock:
    """A clock tests move by hand, so timers and schedules are checked without sleeping."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)):
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


@contextmanager
def fresh_postgres_database(admin_url: str = POSTGRES_ADMIN_URL, template: str | None = None) -> Iterator[str]:
    """Create a PostgreSQL database for one test (empty, or a copy of ``template``) and drop it afterwards."""
    name = "isms_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def outbox_settled(bot) -> bool:  # type: ignore[no-untyped-def]
    """Nothing in the outbox is waiting to be sent now (the dispatcher runs in the server's thread)."""
    from sqlalchemy import func, select

    from storage.models import OutboxEffect

    with bot.runtime.ctx.sessions() as session:
        return not session.scalar(
            select(func.count()).select_from(OutboxEffect).where(OutboxEffect.status.in_(("pending", "sending")))
        )


def settle(bot) -> None:  # type: ignore[no-untyped-def]
    """Wait until the outbox has nothing left to send now."""
    assert eventually(lambda: outbox_settled(bot)), "the outbox did not settle"


def eventually(condition: Callable[[], T], timeout: float = 10.0) -> T:
    """Wait for a background thread (the dispatcher, the scheduler, the server) until ``condition``
    gives something truthy, and return it; the deadline is a safety net, not a measurement."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)

"""Fixtures: a database per test (SQLite, or PostgreSQL when ISMS_TEST_DATABASE=postgresql), a
controllable clock, the Slack Web API double, and the bot's real HTTP server wired to them."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.server import BotServer
from config.settings import Settings, load_settings
from storage import migrate
from storage.db import make_engine, make_sessions
from tests.doubles.slack_api import SlackApiDouble
from tests.support import POSTGRES_ADMIN_URL, FakeClock, fresh_postgres_database

SIGNING_SECRET = "test-signing-secret-8f2c"
BOT_TOKEN = "xoxb-test"
USE_POSTGRES = os.environ.get("ISMS_TEST_DATABASE", "sqlite") == "postgresql"


@functools.cache
def postgres_problem() -> str | None:
    """Why the test PostgreSQL cannot be used (None if it can); asked once per run."""
    engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        where = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} is not reachable ({reason})"
    finally:
        engine.dispose()
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """With ISMS_TEST_DATABASE=postgresql an unreachable PostgreSQL stops the run at once, loudly."""
    if USE_POSTGRES and (problem := postgres_problem()):
        pytest.exit(f"ISMS_TEST_DATABASE=postgresql, but {problem}", returncode=3)


def require_postgres() -> None:
    """Fail a PostgreSQL-only test, with one reason for all of them, when PostgreSQL is not there: the
    tests need it (README), and a skipped test would read as a passed one."""
    problem = postgres_problem()
    if problem is not None:
        pytest.fail(f"{problem}; the tests need PostgreSQL (ISMS_TEST_POSTGRES_URL points elsewhere)")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database, whatever the run's main backend (for PostgreSQL-only behaviour)."""
    require_postgres()
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that per-test databases are copied from (fast CREATE ... TEMPLATE)."""
    require_postgres()
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield make_url(url).database


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest schema on the backend this run tests (SQLite file or PostgreSQL)."""
    if USE_POSTGRES:
        template = request.getfixturevalue("migrated_postgres_template")
        with fresh_postgres_database(template=template) as url:
            yield url
    else:
        yield migrated_sqlite(tmp_path)


def migrated_sqlite(folder: Path) -> str:
    """A SQLite file at the newest schema in ``folder``; its URL."""
    url = f"sqlite:///{folder / 'isms.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database whatever the run's main backend, for behaviour only SQLite has (its write lock)."""
    return migrated_sqlite(tmp_path)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on this test's database, for tests of storage without the rest of the bot."""
    engine = make_engine(db_url)
    yield make_sessions(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Embedded defaults (example organisation) on this test's database, no outside services."""
    return load_settings(ISMS_DATABASE_URL=db_url, ISMS_OUTBOX_BACKOFF_BASE=0.01, ISMS_OUTBOX_BACKOFF_CAP=0.05)


@pytest.fixture
def slack() -> Iterator[SlackApiDouble]:
    with SlackApiDouble(token=BOT_TOKEN) as double:
        for person_id, email in (
            ("U0ALICE", "alice@example.org"),
            ("U0SAM", "sam@example.org"),
            ("U0HANA", "hana@example.org"),
            ("U0ERIN", "erin@example.org"),
            ("U0OLGA", "olga@example.org"),
            ("U0DORA", "dora@example.org"),
            ("U0ALDO", "aldo@example.org"),
            ("U0MIA", "mia@example.org"),
        ):
            double.add_user(person_id, email)
        yield double


@pytest.fixture
def slack_settings(settings: Settings, slack: SlackApiDouble) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": load_settings(SLACK_BOT_TOKEN=BOT_TOKEN).slack_bot_token,
            "slack_signing_secret": load_settings(SLACK_SIGNING_SECRET=SIGNING_SECRET).slack_signing_secret,
            "slack_api_url": slack.base_url,
        }
    )


@pytest.fixture
def bot(slack_settings: Settings, clock: FakeClock) -> Iterator[BotServer]:
    """The real HTTP server (waitress + Bolt + dispatcher) on an ephemeral port."""
    with BotServer(slack_settings, clock=clock) as server:
        yield server

"""Issue 10: a crash after the acknowledgement loses nothing. The report is acknowledged once its
request is stored in the intake; its write is held back (the incidents table locked) and the server is
killed with SIGKILL in that state; a new server on the same database runs the request again, once:
one incident, numbered 1, one answer to the person, and the records chain verifies.

PostgreSQL only: the test needs to see the bot's write waiting for a lock (``pg_stat_activity``)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from storage import migrate, records
from storage.db import make_engine, make_sessions
from storage.models import Incident, IntakeRequest, OutboxEffect
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.doubles.signing import signed_headers, slash_command_body
from tests.slack_client import text_of
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int, child: subprocess.Popen[bytes]) -> None:
    def healthy() -> bool:
        assert child.poll() is None, "the bot exited at start"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    assert eventually(healthy, timeout=30), "the bot did not answer /healthz"


def _start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    _wait_healthy(port, bot)
    return bot


def test_a_report_acknowledged_before_a_crash_is_made_once_after_the_restart(postgres_url, slack):
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    sessions = make_sessions(engine)
    port = _free_port()
    env = {
        **os.environ,
        "ISMS_DATABASE_URL": postgres_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "ISMS_INTAKE_LEASE": "2",  # the dead worker's hold on the request runs out after 2 s
    }
    bot = _start(port, env)
    locker = create_engine(engine.url).connect()
    try:
        locker.begin()
        locker.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
        body = slash_command_body(
            "/incident", "Ransom note on my screen", "U0ERIN", response_url=slack.response_url("r")
        )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/slack/events", body.encode(), signed_headers(SIGNING_SECRET, body))
        answer = connection.getresponse()
        assert (answer.status, answer.read().decode()) == (200, "Got it, working on it\u2026")
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )

        def blocked_on_the_lock() -> bool:
            # The scheduler's tick also reads incidents and may be the one waiting, so the worker's claim
            # of the request must be committed too before the kill means "inside the workflow".
            with sessions() as session:
                if session.scalar(select(IntakeRequest.status)) != "running":
                    return False
            # pg_stat_activity is read once per transaction unless the snapshot is cleared before each look
            locker.execute(text("SELECT pg_stat_clear_snapshot()"))
            return bool(locker.execute(text(waiting)).scalar())

        assert eventually(blocked_on_the_lock, timeout=30), "the worker never reached the report's write"
        bot.kill()  # SIGKILL: no shutdown, the worker dies inside the workflow
        bot.wait()
        locker.rollback()
        with sessions() as session:
            [row] = session.scalars(select(IntakeRequest)).all()
            assert (row.status, row.attempts) == ("running", 1)
            assert session.scalar(select(func.count()).select_from(Incident)) == 0
        assert slack.responses == []

        bot = _start(port, env)

        def done() -> bool:
            with sessions() as session:
                return session.scalar(select(IntakeRequest.status)) == "done"

        assert eventually(done, timeout=30)
        reply = slack.wait_for(lambda call: call.path.endswith("/response/r"), timeout=10)
        assert "Your report is INC-2026-0001" in text_of(reply.args)
        with sessions() as session:
            assert session.scalars(select(Incident.number)).all() == [1]
            assert session.scalar(select(IntakeRequest.attempts)) == 2

        def reply_statuses() -> list[str]:
            with sessions() as session:
                query = select(OutboxEffect.status).where(OutboxEffect.key.like("reply:%"))
                return list(session.scalars(query))

        # one reply was queued and it has gone out (the dispatcher marks it once Slack has answered,
        # a moment after the double saw it): nothing is left to send twice
        assert eventually(lambda: reply_statuses() == ["sent"], timeout=10), reply_statuses()
        assert len(slack.responses) == 1
        with sessions.begin() as session:
            records.link_pending(session, datetime.now(UTC))
        with sessions() as session:
            verification = records.verify(session)
        assert verification.broken_seq is None and verification.unlinked == 0, verification.reason
    finally:
        locker.close()
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        engine.dispose()

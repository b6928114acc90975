"""Issue 10: the acknowledgement waits for the write. A report whose write cannot finish (its table is
locked) gets no acknowledgement; when the server is killed in that state, Slack's request fails (the
person sees that the command failed) and nothing was acknowledged that is not stored.

PostgreSQL only: the test needs to see the bot's write waiting for a lock (``pg_stat_activity``)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from storage import migrate
from storage.db import make_engine
from storage.models import Incident
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.doubles.signing import signed_headers, slash_command_body

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert child.poll() is None, "the bot exited at start"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the bot did not answer /healthz")


def test_no_acknowledgement_before_the_report_is_stored(postgres_url, slack):
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    port = _free_port()
    env = {
        **os.environ,
        "ISMS_DATABASE_URL": postgres_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    locker = create_engine(engine.url).connect()
    try:
        _wait_healthy(port, bot)
        locker.begin()
        locker.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
        answer: list[int | str] = []
        answered = threading.Event()

        def report() -> None:
            body = slash_command_body("/incident", "Ransom note on my screen", "U0ERIN")
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/slack/events", body.encode(), signed_headers(SIGNING_SECRET, body))
                answer.append(connection.getresponse().status)
            except (OSError, http.client.HTTPException) as error:
                answer.append(type(error).__name__)
            answered.set()

        client = threading.Thread(target=report)
        client.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 30

        def blocked_on_the_lock() -> bool:
            # pg_stat_activity is read once per transaction unless the snapshot is cleared before each look
            locker.execute(text("SELECT pg_stat_clear_snapshot()"))
            return bool(locker.execute(text(waiting)).scalar())

        while not blocked_on_the_lock():
            assert time.monotonic() < deadline, "the report never reached its write"
            time.sleep(0.01)
        # The write waits for the lock. An acknowledgement sent before the write would arrive now.
        answered.wait(timeout=2)
        bot.kill()
        bot.wait()
        client.join(timeout=10)
        locker.rollback()
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Incident)).scalar()
        assert answer and answer[0] != 200, f"acknowledged, yet {stored} incidents stored"
        assert stored == 0
    finally:
        locker.close()
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        engine.dispose()

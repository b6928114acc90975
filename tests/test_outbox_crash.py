"""``kill -9`` of a process draining the outbox while Slack holds posts it has made but not yet
answered: a restarted process delivers everything the dead one had claimed, once each, as soon as its
short lease runs out (the lease here is 1 s; how long that takes is measured in bench/outbox_restart.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from storage import outbox
from storage.db import make_engine, make_sessions
from storage.models import OutboxEffect
from tests.doubles.slack_api import SlackApiDouble
from tests.support import eventually
from workflows.kernel.ui import Message

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = 40
IN_FLIGHT = 4


@contextmanager
def drainer(db_url: str, slack: SlackApiDouble) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.outbox_process", db_url, slack.base_url, "1", str(IN_FLIGHT)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)


def test_a_restart_after_kill_9_delivers_what_the_dead_process_claimed_once_each(db_url: str):
    engine = make_engine(db_url)
    sessions = make_sessions(engine)
    keys = [f"reminder-{n}" for n in range(PEOPLE)]
    with sessions.begin() as session:
        for n, key in enumerate(keys):
            payload = {"to": f"slack:U{n:04d}", "message": Message(f"reminder {n}").to_dict()}
            outbox.enqueue(session, kind="chat.message", key=key, payload=payload, now=datetime.now(UTC))

    with SlackApiDouble(token="xoxb-test", clock=time.time) as slack:
        # Slack posts the first messages but never answers: the process dies with them in flight.
        slack.lose_answers("chat.postMessage", "hang", times=IN_FLIGHT)
        with drainer(db_url, slack) as first:
            slack.wait_for("chat.postMessage", count=IN_FLIGHT, timeout=30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        slack.release_hung()
        with sessions() as session:
            claimed = session.scalars(select(OutboxEffect.key).where(OutboxEffect.status == "sending")).all()
        assert len(claimed) >= IN_FLIGHT  # the dead process held them (and posted some)

        with drainer(db_url, slack):

            def delivered() -> bool:
                with sessions() as session:
                    return outbox.counts_by_status(session) == {"sent": PEOPLE}

            assert eventually(delivered, timeout=60), "the restarted process did not deliver everything"

        per_person = Counter(call.args["channel"] for call in slack.calls_to("chat.postMessage"))
        assert per_person == Counter({f"U{n:04d}": 1 for n in range(PEOPLE)})  # 0 lost, 0 doubled
        assert len(slack.lost) == IN_FLIGHT
    engine.dispose()

"""Two bot processes on one PostgreSQL database: one runs the scheduler (advisory lock), every
reminder goes out once, and when the leader is killed the standby takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from storage import migrate
from storage.db import make_engine
from storage.models import ActivitySchedule, EvidenceRequest, OutboxEffect, Record
from tests.support import eventually
from tests.world import berlin, org_file

ROOT = Path(__file__).resolve().parents[1]
ACTIVITIES = 19
"""Entries of the example organisation's default programme."""


class BotProcess:
    """A child ``tests.scheduler_process`` whose role changes are collected from its output."""

    def __init__(self, url: str, org: Path, clock_file: Path, sent_file: Path):
        self.sent_file = sent_file
        self.roles: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.scheduler_process", url, str(org), str(clock_file), str(sent_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.roles.append(line.strip())

    @property
    def leads(self) -> bool:
        return bool(self.roles) and self.roles[-1] == "leader"

    def sent(self) -> list[str]:
        return self.sent_file.read_text().split() if self.sent_file.exists() else []

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def wait(check, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    assert eventually(check, timeout=timeout), f"timed out waiting for {what}"


def settled(engine: Engine, now: datetime) -> bool:
    """Nothing due is left: every step up to ``now`` was taken and every message sent, the day's
    records head included (REC posts it in a tick of its own, possibly after the evidence steps; a
    bot killed while sending it would leave it to the other bot, to be sent twice or never)."""
    head = f"rec:head:{now.date().isoformat()}"
    with engine.connect() as connection:
        due = connection.scalar(
            select(func.count())
            .select_from(EvidenceRequest)
            .where(EvidenceRequest.status == "open", EvidenceRequest.next_action_at <= now)
        )
        unsent = connection.scalar(select(func.count()).select_from(OutboxEffect).where(OutboxEffect.status != "sent"))
        posted = connection.scalar(select(OutboxEffect.status).where(OutboxEffect.key == head))
        recorded = connection.scalar(select(func.count()).select_from(Record))
    return due == 0 and unsent == 0 and (posted == "sent" or not recorded)  # no record yet: no head to post


def scheduled(engine: Engine) -> int:
    """Activities of the programme that a tick has seen (and given a next due date)."""
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(ActivitySchedule)) or 0


def messages(engine: Engine) -> int:
    """Chat messages queued so far, sent or not."""
    with engine.connect() as connection:
        return (
            connection.scalar(select(func.count()).select_from(OutboxEffect).where(OutboxEffect.kind == "chat.message"))
            or 0
        )


def test_two_processes_send_each_reminder_once_and_the_standby_takes_over(postgres_url, tmp_path):
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    org = org_file(tmp_path)  # the whole default programme, live at once
    clock_file = tmp_path / "clock"

    def set_clock(moment: datetime) -> None:
        staged = tmp_path / "clock.next"
        staged.write_text(moment.isoformat())
        staged.replace(clock_file)

    set_clock(berlin(2026, 11, 23, 10, 0))
    bots = [BotProcess(postgres_url, org, clock_file, tmp_path / f"sent-{n}") for n in range(2)]
    try:
        wait(lambda: all(bot.roles for bot in bots) and sum(bot.leads for bot in bots) == 1, "one leader")
        leader, standby = (bots[0], bots[1]) if bots[0].leads else (bots[1], bots[0])
        wait(lambda: scheduled(engine) == ACTIVITIES and settled(engine, berlin(2026, 11, 23, 10, 0)), "the first tick")

        def move_to(moment: datetime) -> None:
            """Set the bots' clock and wait until a tick has acted on it and everything due is sent."""
            before = messages(engine)
            set_clock(moment)
            wait(lambda: messages(engine) > before and settled(engine, moment), f"everything due at {moment}")

        move_to(berlin(2026, 12, 17, 17, 0))  # asks
        move_to(berlin(2026, 12, 24, 9, 0))  # 7-day reminders
        leader.kill()
        wait(lambda: standby.leads, "the standby to take over")
        move_to(berlin(2026, 12, 31, 9, 0))  # the reminders on the due date
    finally:
        for bot in bots:
            bot.kill()

    with engine.connect() as connection:
        keys = set(connection.scalars(select(OutboxEffect.key).where(OutboxEffect.kind == "chat.message")))
        requests = connection.execute(
            select(EvidenceRequest.id, EvidenceRequest.activity_key, EvidenceRequest.due_at, EvidenceRequest.created_at)
        ).all()
    engine.dispose()
    sent = leader.sent() + standby.sent()
    assert [key for key, times in Counter(sent).items() if times > 1] == []  # nothing sent twice
    assert set(sent) == keys  # nothing lost
    assert len({activity for _, activity, _, _ in requests}) == ACTIVITIES
    assert {key.split(":")[1] for key in keys if ":s0:" in key} == {str(id_) for id_, _, _, _ in requests}  # all asked
    year_end = [
        id_
        for id_, _, due, created in requests
        if due == berlin(2026, 12, 31, 17, 0) and created <= berlin(2026, 12, 17, 17, 0)
    ]
    assert len(year_end) >= 10
    for id_ in year_end:  # 7 days before and on the due date: once each, the latter after the takeover
        reminders = [key for key in sent if key.startswith(f"evidence:{id_}:r0:s1:")]
        on_the_day = [key for key in standby.sent() if key.startswith(f"evidence:{id_}:r0:s3:")]
        assert len(reminders) == 1 and len(on_the_day) == 1, id_
    assert leader.roles[:1] == ["leader"] and standby.roles[-1] == "leader"

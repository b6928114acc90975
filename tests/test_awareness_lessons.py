"""Lessons learned from closed incidents reach people: the monthly awareness digest lists last
month's lessons in the channel the organisation file names, once, even when two runtimes tick."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.runtime import build_runtime
from tests.awareness_support import awareness_org
from tests.test_incidents_clocks import report, triage
from tests.world import Chat, World, berlin, fresh_key, make_world, with_org
from workflows.incidents import flows as incidents
from workflows.kernel.process import run_due_work


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    clock.set(berlin(2026, 11, 23, 10, 0))
    digest = {"enabled": True, "channel": "C0AWARE", "day": 2, "at": "09:30"}
    world = make_world(settings, clock, awareness_org(tmp_path, lessons_digest=digest))
    yield world
    world.close()


def close(world: World, ref: str, lessons: str) -> None:
    triage(world, ref, severity="P3", handler="hana")
    incidents.close(world.ctx, world.actor("hana"), key=fresh_key(), ref=ref, root_cause="A phish", lessons=lessons)
    world.deliver()


def digests(chat: Chat) -> list[str]:
    return [s.text for s in chat.sent if s.to == "slack:C0AWARE"]


def test_the_monthly_digest_lists_last_months_lessons_once(world, clock, settings, tmp_path):
    close(world, report(world), "Check the sender's address before entering a password.")
    close(world, report(world, "olga", category="lost_device"), "Lock laptops <b>in the car boot</b>.")
    world.at(berlin(2026, 12, 2, 9, 29))
    assert digests(world.chat) == []

    world.at(berlin(2026, 12, 2, 9, 30))
    # A second runtime on the same database ticks too: nothing more is posted.
    other_chat = Chat()
    other = build_runtime(with_org(settings, world.runtime.settings.config_path), other_chat, clock=clock)
    run_due_work(other.ctx)
    other.dispatcher.drain()
    other.engine.dispose()
    world.at(berlin(2026, 12, 3, 9, 30))

    assert digests(world.chat) == [
        "Lessons learned in 2026-11: 2 closed incidents\n"
        "• INC-2026-0001 (Phishing): Check the sender's address before entering a password.\n"
        "• INC-2026-0002 (Lost or stolen device): Lock laptops <b>in the car boot</b>.\n"
        "What we learned from incidents, so the same thing does not happen to you."
    ]
    assert [s for s in other_chat.sent if s.to == "slack:C0AWARE"] == []
    assert [data for _, _, _, data in world.records("lessons-digest", "AWR")] == [
        {"to": "slack:C0AWARE", "lessons": 2, "incidents": ["INC-2026-0001", "INC-2026-0002"]}
    ]


def test_a_month_without_lessons_posts_nothing_but_is_recorded(world):
    world.at(berlin(2026, 12, 2, 10, 0))
    assert digests(world.chat) == []
    assert [data["lessons"] for _, _, _, data in world.records("lessons-digest", "AWR")] == [0]

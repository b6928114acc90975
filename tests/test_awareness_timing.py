"""Campaigns for many people and people far away: the missing list pages with its "More" button,
the overview pages too, and each person is asked and reminded in their own timezone's morning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.awareness_support import awareness_org, campaign_values
from tests.world import World, berlin, make_world
from workflows.kernel.timezones import remember_timezone

EXTRA = 30


@pytest.fixture
def world(settings, clock, tmp_path: Path) -> Iterator[World]:
    clock.set(berlin(2026, 11, 23, 10, 0))
    path = awareness_org(tmp_path)
    org = yaml.safe_load(path.read_text(encoding="utf-8"))
    org["people"] += [
        {"id": f"p{n:02d}", "name": f"Person {n:02d}", "slack_id": f"U0P{n:02d}", "roles": ["employee"]}
        for n in range(EXTRA)
    ]
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    world = make_world(settings, clock, path)
    yield world
    world.close()


def test_the_missing_list_and_the_overview_page_with_more_buttons(world):
    world.fill("alice", "awareness.new", campaign_values(), "")
    first = world.command("alice", "campaigns AWR-0001").reply
    assert first is not None
    assert first.footer == "Showing 1–20 of 38."
    assert [(b.action_id, b.label, b.value) for b in first.buttons] == [
        ("awareness.more", "More (18 left)", "missing AWR-0001:20")
    ]
    second = world.press("alice", "awareness.more", "missing AWR-0001:20").reply
    assert second is not None and second.footer == "Showing 21–38 of 38." and second.buttons == ()
    assert world.press("erin", "awareness.more", "missing AWR-0001:20").reply.text.startswith(
        "Sorry, the campaign overview is for"
    )

    for n in range(20):
        world.fill(
            "alice", "awareness.new", campaign_values(title=f"Module {n}", audience_kind="people", audience="mia"), ""
        )
    overview = world.command("alice", "campaigns").reply
    assert overview is not None and dict(overview.fields)["Campaigns"] == "21 (21 open)"
    assert overview.body.splitlines()[0].startswith("AWR-0021 the training “Module 19”")
    last = world.press("alice", "awareness.more", "all:20").reply
    assert last is not None and last.body.startswith("AWR-0001 the training “Phishing basics”: 0 of 38 (0%) done")


def test_each_person_is_asked_and_reminded_in_their_own_morning(world):
    remember_timezone(world.ctx, "erin", "Asia/Tokyo", world.clock())
    world.clock.set(berlin(2026, 11, 23, 19, 30))  # 03:30 in Tokyo, evening in Berlin: nobody is asked now
    world.fill("alice", "awareness.new", campaign_values(audience_kind="people", audience="erin, olga"), "")
    assert world.chat.to_people() == []
    assert [to for to, _ in world.at(berlin(2026, 11, 24, 0, 0))] == ["erin"]  # 08:00 in Tokyo
    assert [to for to, _ in world.at(berlin(2026, 11, 24, 8, 0))] == ["olga"]  # 08:00 in Berlin
    assert dict(world.chat.to("erin")[0].fields)["Due"] == "Sat 05 Dec 2026, 01:00 (Asia/Tokyo)"
    # The 7-day reminder: Friday 27 November at 09:00 in Berlin; Saturday 28 November in Tokyo, a
    # weekend day there, so Monday morning.
    assert [to for to, _ in world.at(berlin(2026, 11, 27, 9, 0))] == ["olga"]
    assert world.at(berlin(2026, 11, 28, 1, 0)) == []
    assert [to for to, _ in world.at(berlin(2026, 11, 30, 0, 0))] == ["erin"]  # Monday 08:00 in Tokyo

"""PERF's campaign completion (issue 11): over the campaigns due in a period, the share of assignments
done and the number of campaigns, as the ISMS manager reads them in ``/isms metrics``; checked against
a hand count on two campaigns due in December and one due in January, with a threshold set on the rate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from tests.awareness_support import awareness_org, campaign_values
from tests.world import World, berlin, make_world, text_of


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    clock.set(berlin(2026, 11, 23, 10, 0))
    path = awareness_org(tmp_path)
    org = yaml.safe_load(path.read_text(encoding="utf-8"))
    org["metrics"] = {"thresholds": {"awr.completion.rate": {"min": 80}}}
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    world = make_world(settings, clock, path)
    yield world
    world.close()


def start(world: World, **values: str) -> None:
    form = world.command("alice", "campaign new").form
    assert form is not None
    reply = world.fill("alice", "awareness.new", campaign_values(**values), form.metadata).reply
    assert reply is not None and reply.text.startswith("Campaign AWR-")


def confirm(world: World, *people: str) -> None:
    """Each presses "I have completed it" on the newest campaign they were asked to do."""
    for person in people:
        world.press(person, "awareness.done", world.chat.button(person, "awareness.done"))


def metric_lines(world: World, period: str) -> list[str]:
    reply = world.command("alice", f"metrics {period}").reply
    assert reply is not None
    return [line for line in text_of(reply).splitlines() if "awr.completion" in line]


def test_completion_of_the_campaigns_due_in_a_month_matches_the_hand_count(world):
    start(world, title="Phishing basics", due="2026-12-04")  # everyone: 8 people
    confirm(world, "hana", "erin", "sam")
    start(world, title="Owner duties", due="2026-12-10", audience_kind="role", audience="owner")  # erin, olga
    confirm(world, "erin")
    world.clock.set(berlin(2026, 12, 7, 10, 0))  # a Monday
    confirm(world, "dora")  # after the first campaign's due date: still done
    start(world, title="Clean desk", due="2027-01-15")  # due in January: not December's
    confirm(world, "alice", "mia")
    world.clock.set(berlin(2026, 12, 11, 10, 0))

    # By hand: (3 + 1 late) of 8, plus 1 of 2 = 5 of 10 assignments done, over 2 campaigns.
    assert metric_lines(world, "2026-12") == [
        "⚠ awr.completion.rate: Campaign completion: 50 % (threshold ≥ 80), n = 10",
        "awr.completion.campaigns: Campaigns due: 2, n = 2",
    ]
    # No campaign was due in November: nothing to measure, and the threshold is not crossed.
    assert metric_lines(world, "2026-11") == [
        "awr.completion.rate: Campaign completion: no data (threshold ≥ 80)",
        "awr.completion.campaigns: Campaigns due: no data",
    ]


def test_a_campaign_not_yet_due_is_not_counted_in_the_month_so_far(world):
    start(world, title="Owner duties", due="2026-12-10", audience_kind="role", audience="owner")
    confirm(world, "erin", "olga")
    world.clock.set(berlin(2026, 12, 9, 10, 0))
    rate = "awr.completion.rate: Campaign completion"
    assert metric_lines(world, "2026-12")[0] == f"{rate}: no data (threshold ≥ 80)"
    world.clock.set(berlin(2026, 12, 10, 18, 0))  # due at 17:00 Berlin
    assert metric_lines(world, "2026-12")[0] == f"{rate}: 100 % (threshold ≥ 80), n = 2"

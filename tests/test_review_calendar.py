"""With Microsoft 365 configured, a management review is also an Outlook event in the organiser's
mailbox (the Graph double): created once when the review is scheduled, and the same event moved when
the review moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.runtime import build_runtime
from config.settings import Settings
from integrations.graph import start
from tests.doubles.graph_api import GraphDouble
from tests.support import FakeClock
from tests.test_graph import SECRET, graph_org, graph_settings, trusting
from tests.world import Chat, World


@pytest.fixture
def graph() -> Iterator[GraphDouble]:
    with GraphDouble(client_secret=SECRET) as double:
        double.add_user("u-alice", "alice@example.org", "Alice", department="ISMS")
        yield double


@pytest.fixture
def world(settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path) -> Iterator[World]:
    path = graph_org(tmp_path)
    org = yaml.safe_load(path.read_text(encoding="utf-8"))
    org["microsoft365"] = {"mailbox": "alice"}
    org["reviews"] = {"first": "2027-03-15 10:00", "chair": "mia", "attendees": ["alice", "olga"]}
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    configured = graph_settings(settings, graph, path)
    chat = Chat()
    built = World(
        build_runtime(configured, chat, clock=clock, microsoft365=start(configured, trusting(graph))), chat, clock
    )
    yield built
    built.runtime.engine.dispose()


def test_the_review_is_one_outlook_event_moved_in_place(world: World, graph: GraphDouble):
    world.tick()
    world.tick()

    events = graph.mailbox("u-alice").events
    assert len(events) == 1
    event = next(iter(events.values()))
    assert event["subject"] == "Management review (REV-2027-01)"
    assert {a["emailAddress"]["address"] for a in event["attendees"]} == {
        "mia@example.org",
        "alice@example.org",
        "olga@example.org",
    }
    assert event["start"] == {"dateTime": "2027-03-15T09:00:00", "timeZone": "UTC"}  # 10:00 in Berlin

    world.command("alice", "review move REV-2027-01 2027-03-22 14:00")
    world.deliver()

    assert len(events) == 1
    assert event["start"] == {"dateTime": "2027-03-22T13:00:00", "timeZone": "UTC"}


def test_a_cancelled_review_cancels_its_outlook_event_with_the_reason(world: World, graph: GraphDouble):
    world.tick()
    world.tick()
    events = graph.mailbox("u-alice").events

    outcome = world.command("alice", "review cancel REV-2027-01 The board meets in April instead")
    world.deliver()

    assert outcome.reply is not None and outcome.reply.text == "REV-2027-01 is cancelled; the attendees are told."
    assert len(events) == 1
    event = next(iter(events.values()))
    assert (event["isCancelled"], event["cancellationComment"]) == (True, "The board meets in April instead")

"""Campaign audiences from Microsoft 365 (against the Graph double): a group's members the
organisation file lists, and a department only the directory knows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import build_runtime
from config.settings import Settings
from integrations.graph import start
from tests.awareness_support import assignments, campaign_values
from tests.doubles.graph_api import GraphDouble
from tests.support import FakeClock
from tests.test_graph import G_SEC, graph, graph_org, graph_settings, trusting
from tests.world import Chat, World, berlin
from workflows.directory.flows import sync

__all__ = ["graph"]  # the Graph double fixture
EMPTY_GROUP = "44444444-4444-4444-8444-444444444444"


@pytest.fixture
def world(settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path) -> Iterator[World]:
    clock.set(berlin(2026, 11, 23, 10, 0))
    configured = graph_settings(settings, graph, graph_org(tmp_path))
    chat = Chat()
    built = World(
        build_runtime(configured, chat, clock=clock, microsoft365=start(configured, trusting(graph))), chat, clock
    )
    yield built
    built.close()


def test_a_group_and_a_directory_department_as_audiences(world: World):
    sync(world.ctx)
    form = world.command("alice", "campaign new").form
    assert form is not None
    started = world.fill("alice", "awareness.new", campaign_values(audience_kind="group", audience=G_SEC), "")
    assert started.reply is not None and dict(started.reply.fields)["People"] == "2"
    assert sorted(assignments(world.ctx)) == ["hana", "sam"]  # newbie is not in the organisation file

    world.fill("alice", "awareness.new", campaign_values(audience_kind="department", audience="Audit"), "")
    assert sorted(assignments(world.ctx, "AWR-0002")) == ["aldo"]  # the directory's department
    listed = world.command("alice", "campaigns AWR-0002").reply
    assert listed is not None and "By department: Audit: 0 of 1 (0%)." in listed.body

    bad = world.fill("alice", "awareness.new", campaign_values(audience_kind="group", audience="ISMS team"), "")
    assert bad.errors == {"audience": "Give the group's object id from Entra ID (a GUID)."}
    # A group's members are read after the form's quick check: an empty group is told, nothing stored.
    empty = world.fill("alice", "awareness.new", campaign_values(audience_kind="group", audience=EMPTY_GROUP), "")
    assert empty.reply is not None
    assert empty.reply.text == "The campaign was not started: Nobody is in that audience; choose another."
    assert assignments(world.ctx, "AWR-0003") == {}

    # The file places erin and olga in Operations, which wins over the directory's Finance.
    unknown = world.fill("alice", "awareness.new", campaign_values(audience_kind="department", audience="Finance"), "")
    assert unknown.errors == {"audience": "I know no department called 'Finance'."}

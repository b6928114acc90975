"""With Microsoft 365 configured, a planned internal audit is also in Outlook (the Graph double): the
kick-off meeting with auditors and auditees, and the report due date with the auditors, each created
once even when Graph's answer is lost; through the router and through Slack's signed modal. Without
Microsoft 365 nothing goes to a calendar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bot.runtime import build_runtime
from bot.server import BotServer
from config.errors import ConfigError
from config.settings import PACKAGED_EXAMPLE_ORG, Settings
from integrations.graph import start
from storage.models import OutboxEffect
from tests.doubles.graph_api import GraphDouble
from tests.doubles.slack_api import SlackApiDouble
from tests.slack_client import SlackUser
from tests.support import FakeClock, eventually
from tests.test_audits_slack import PLAN as MODAL_PLAN
from tests.test_audits_slack import modal, submit
from tests.test_graph import SECRET, graph_org, graph_settings, trusting
from tests.world import Chat, World, make_world

PROGRAMME_ENTRY = {
    "key": "ops-2026",
    "title": "Operations",
    "processes": ["INC", "CHG"],
    "criteria": "Incident and change procedures",
    "auditors": ["aldo"],
    "kickoff": "2026-12-07",
    "evidence_due": "2026-12-11",
    "report_due": "2026-12-18",
}
PLAN = {
    "title": "ISMS operations 2026",
    "processes": "INC, CHG",
    "controls": "",
    "criteria": "ISO/IEC 27001:2022 clauses 8 and 10",
    "auditors": "aldo",
    "kickoff": "2026-12-07",
    "evidence_due": "2026-12-11",
    "report_due": "2026-12-18",
}
TEAM = {"aldo@example.org", "alice@example.org", "sam@example.org"}
"""The auditor and the owners of INC and CHG (the auditees) in the example organisation."""
EVENTS_PATH = "/users/alice@example.org/calendar/events"


@pytest.fixture
def graph() -> Iterator[GraphDouble]:
    with GraphDouble(client_secret=SECRET) as double:
        double.add_user("u-alice", "alice@example.org", "Alice", department="ISMS")
        yield double


def m365_world(settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path, **audits: Any) -> World:
    path = graph_org(tmp_path)
    org = yaml.safe_load(path.read_text(encoding="utf-8"))
    org["audits"] = {"remind_before_days": [7, 1], **audits}
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    configured = graph_settings(settings, graph, path)
    chat = Chat()
    return World(
        build_runtime(configured, chat, clock=clock, microsoft365=start(configured, trusting(graph))), chat, clock
    )


@pytest.fixture
def world(settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path) -> Iterator[World]:
    built = m365_world(settings, clock, graph, tmp_path)
    yield built
    built.runtime.engine.dispose()


def attendees(event: dict[str, Any]) -> set[str]:
    return {a["emailAddress"]["address"] for a in event["attendees"]}


def by_subject(graph: GraphDouble) -> dict[str, dict[str, Any]]:
    return {event["subject"]: event for event in graph.mailbox("u-alice").events.values()}


def calendar_effects(world: World) -> int:
    with world.ctx.read() as session:
        query = select(func.count()).select_from(OutboxEffect).where(OutboxEffect.kind == "calendar.event")
        return int(session.scalar(query) or 0)


def test_an_audit_from_the_file_is_one_kickoff_and_one_report_event_even_when_the_answer_is_lost(
    settings: Settings, clock: FakeClock, graph: GraphDouble, tmp_path: Path
):
    world = m365_world(
        settings, clock, graph, tmp_path, kickoff_at="09:30", kickoff_minutes=90, programme=[PROGRAMME_ENTRY]
    )
    try:
        graph.lose_answer("POST", EVENTS_PATH)  # the first create is made, its answer never arrives
        world.tick()
        clock.advance(seconds=1)
        world.tick()  # the retry and a second look at the programme
        world.deliver()

        assert [fault.times for fault in graph.faults] == [0]  # the answer was indeed lost once
        events = by_subject(graph)
        assert len(events) == 2
        kickoff = events["Kick-off of internal audit AUD-2026-0001: Operations"]
        assert attendees(kickoff) == TEAM
        assert kickoff["start"] == {"dateTime": "2026-12-07T08:30:00", "timeZone": "UTC"}  # 09:30 in Berlin
        assert kickoff["end"] == {"dateTime": "2026-12-07T10:00:00", "timeZone": "UTC"}
        assert "Scope: INC, CHG" in kickoff["body"]["content"]
        report = events["Report due: internal audit AUD-2026-0001"]
        assert attendees(report) == {"aldo@example.org"}  # the auditors write the report
        assert report["start"] == {"dateTime": "2026-12-18T15:30:00", "timeZone": "UTC"}  # ends at 17:00 Berlin
        assert report["end"] == {"dateTime": "2026-12-18T16:00:00", "timeZone": "UTC"}
        (record,) = world.records("audit-planned", "AUD")
        assert record[3]["outlook_events"] == ["kickoff", "report"]
    finally:
        world.runtime.engine.dispose()


def test_an_audit_planned_in_chat_is_in_outlook_once_and_the_planner_is_told(world: World, graph: GraphDouble):
    assert world.command("alice", "audit new").form is not None
    outcome = world.fill("alice", "audit.plan", PLAN, "", key="plan-1")
    again = world.fill("alice", "audit.plan", PLAN, "", key="plan-1")  # a Slack retry of the same submission
    world.deliver()

    assert outcome.reply is not None and outcome.reply.body == (
        "The auditors and auditees are told now and reminded before each date. "
        "The kick-off and the report due date will be in their Outlook calendars."
    )
    assert again.reply is not None and again.reply.text == "This audit was already planned."
    events = by_subject(graph)
    assert set(events) == {
        "Kick-off of internal audit AUD-2026-0001: ISMS operations 2026",
        "Report due: internal audit AUD-2026-0001",
    }
    kickoff = events["Kick-off of internal audit AUD-2026-0001: ISMS operations 2026"]
    assert attendees(kickoff) == TEAM
    assert kickoff["start"] == {"dateTime": "2026-12-07T09:00:00", "timeZone": "UTC"}  # the default 10:00
    assert kickoff["end"] == {"dateTime": "2026-12-07T10:00:00", "timeZone": "UTC"}  # an hour


def test_without_microsoft_365_planning_puts_nothing_in_a_calendar(settings: Settings, clock: FakeClock):
    world = make_world(settings, clock)
    try:
        assert world.command("alice", "audit new").form is not None
        outcome = world.fill("alice", "audit.plan", PLAN, "")
        world.deliver()

        assert outcome.reply is not None
        assert outcome.reply.body == "The auditors and auditees are told now and reminded before each date."
        assert calendar_effects(world) == 0
        (record,) = world.records("audit-planned", "AUD")
        assert "outlook_events" not in record[3]
    finally:
        world.close()


def test_an_unquoted_kickoff_time_stops_the_start_naming_the_key(settings: Settings, clock: FakeClock, tmp_path: Path):
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["audits"] = {"kickoff_at": 600}  # what YAML reads from an unquoted 10:00
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        make_world(settings, clock, path)
    assert "audits.kickoff_at" in str(raised.value) and '"HH:MM" in quotes' in str(raised.value)


def test_planning_in_the_slack_modal_puts_the_kickoff_in_outlook(
    slack_settings: Settings,
    slack: SlackApiDouble,
    clock: FakeClock,
    graph: GraphDouble,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(graph.ca_file))  # the bot's own session trusts the double
    with BotServer(graph_settings(slack_settings, graph, graph_org(tmp_path)), clock=clock) as bot:
        assert SlackUser(bot.url, slack, "U0ALICE").command("/isms", "audit new")[0] == 200
        assert submit(bot, "U0ALICE", modal(slack, "audit.plan"), MODAL_PLAN) == (200, "")

        events = eventually(lambda: by_subject(graph) if len(by_subject(graph)) == 2 else None)
    assert events is not None, "the two events never reached Outlook"
    kickoff = events["Kick-off of internal audit AUD-2026-0001: ISMS operations 2026"]
    assert attendees(kickoff) == TEAM
    assert kickoff["start"] == {"dateTime": "2026-12-07T09:00:00", "timeZone": "UTC"}

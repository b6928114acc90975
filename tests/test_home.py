"""The App Home per role: the person's own open items from every process, the status overview first
for the ISMS manager and the security team, within Slack's 100 blocks; an employee never sees
anybody else's incidents; published again after the person acts on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from bot.slack.blocks import MAX_VIEW_BLOCKS, home_view
from storage.models import EvidenceRequest, Incident, Record
from tests import status_data
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import block_actions_payload, event_body, post_signed
from tests.slack_client import SlackUser, text_of
from tests.world import World
from workflows.common.home import home
from workflows.kernel.ui import HomeView

OLGAS = [f"INC-2026-{100 + n:04d}" for n in range(5, 9)]  # status_data: olga's three P1 and her new report
ERINS = [f"INC-2026-{100 + n:04d}" for n in range(1, 5)]  # erin's four, all closed


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = status_data.reporting_world(settings, clock, tmp_path)
    status_data.seed(world)
    yield world
    world.close()


def shown(world: World, person: str) -> tuple[HomeView, str]:
    view = home(world.ctx, world.actor(person))
    rendered = home_view(view)
    assert len(rendered["blocks"]) <= MAX_VIEW_BLOCKS
    return view, text_of(rendered)


def test_isms_manager_sees_the_overview_first_then_evidence_to_review(world):
    view, text = shown(world, "alice")
    assert view.sections[0].text == "Your role: employee, ISMS manager"
    overview = view.sections[1]
    assert overview.text == "ISMS status of Example Ltd, 2026-Q4 so far"
    assert overview.fields[0] == ("Open incidents", "4")  # counts first
    assert "Incidents: 4 open (P1 3, not rated 1)" in text
    assert "To review: EV-1 Seeded activity 1 from Olga" in text
    assert "Your open incident reports" not in text  # alice reported none


def test_security_team_sees_the_overview_and_the_reports_to_triage(world):
    view, text = shown(world, "hana")
    assert view.sections[1].text.startswith("ISMS status of Example Ltd")
    assert "1 incident report waits for triage: INC-2026-0108" in text


@pytest.mark.parametrize("person", ["mia", "aldo", "erin", "olga", "dora"])
def test_others_get_no_overview(world, person):
    view, text = shown(world, person)
    assert "ISMS status of" not in text
    assert all(not section.fields for section in view.sections)


def test_an_auditor_opening_the_home_leaves_no_access_record_and_sees_no_items(world):
    _, text = shown(world, "aldo")
    assert "You have no open items." in text
    with world.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Record).where(Record.action == "auditor-access")) == 0


def test_employee_sees_own_reports_and_requests_never_others_incidents(world):
    _, olga = shown(world, "olga")
    assert f"You have 4 open incident reports: {', '.join(reversed(OLGAS))}" in olga
    assert "EV-3 Seeded activity 3" in olga  # her overdue evidence request
    assert "CHG-2026-" not in olga  # her change is in implementation: nothing for her to do
    assert not any(ref in olga for ref in ERINS)
    _, erin = shown(world, "erin")
    assert "Your open incident reports" not in erin  # hers are all closed
    assert not any(ref in erin for ref in OLGAS) and "secret" not in erin
    assert "EV-4 Seeded activity 4" in erin


def test_the_home_stays_within_100_blocks_with_the_overview_when_everything_is_long(world):
    now = world.clock()
    with world.ctx.sessions.begin() as session:
        session.execute(
            insert(Incident),
            [status_data.incident(n, "alice", status="new") for n in range(10, 70)],
        )
        session.execute(
            insert(EvidenceRequest),
            [
                {**status_data._request(i, "RA", "alice", now + timedelta(days=i), "open"), "activity_key": f"RA/x-{i}"}
                for i in range(10, 70)
            ],
        )
    view = home(world.ctx, world.actor("alice"))
    rendered = home_view(view)
    assert len(rendered["blocks"]) <= MAX_VIEW_BLOCKS
    text = text_of(rendered)
    assert text.index("ISMS status of") < text.index("You have 60 open incident reports")
    assert "You have 60 evidence requests in progress" in text or "do not fit here" in text


def test_isms_home_in_the_console_shows_the_overview_counts(world):
    reply = world.command("alice", "home").reply
    assert reply is not None
    assert "Open incidents: 4" in reply.body and "Incidents: 4 open" in reply.body
    employee = world.command("erin", "home").reply
    assert employee is not None and "Open incidents:" not in employee.body


def test_home_is_published_when_opened_and_again_after_acting_on_it(bot, slack):
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0ALICE"}, "EvH1")
    assert post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, "application/json")[0] == 200
    first = slack.wait_for("views.publish")
    assert first.args["user_id"] == "U0ALICE" and "ISMS status of" in text_of(first.args["view"])
    alice = SlackUser(bot.url, slack, "U0ALICE")
    on_home = block_actions_payload("U0ALICE", "com.status", "INC", view={"type": "home", "id": "VHOME"})
    assert alice.interact(on_home) == 200
    again = slack.wait_for("views.publish", count=2)
    assert again.args["user_id"] == "U0ALICE"
    in_dm = block_actions_payload("U0ALICE", "com.status", "CHG")  # a button in a message: no publish
    assert alice.interact(in_dm) == 200
    later = event_body({"type": "app_home_opened", "user": "U0SAM", "tab": "home", "channel": "D0SAM"}, "EvH2")
    post_signed(bot.url + "/slack/events", SIGNING_SECRET, later, "application/json")
    slack.wait_for("views.publish", count=3)  # a barrier
    assert [c.args["user_id"] for c in slack.calls_to("views.publish")] == ["U0ALICE", "U0ALICE", "U0SAM"]

"""Management reviews end to end through Slack's signed requests: ``/isms review new`` (its modal, a
date in the past refused on its field, somebody without the role refused), the invitations, the pack
sent to the attendees, and the decisions recorded from the pack's button, read from the Slack double."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.server import BotServer
from storage.models import Change, Review
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import (
    FORM_CONTENT_TYPE,
    block_actions_payload,
    interactivity_body,
    post_signed,
    view_submission_payload,
)
from tests.slack_client import SlackUser, text_of
from tests.support import eventually
from tests.test_review_pack import review_org
from tests.world import berlin


@pytest.fixture
def review_bot(slack_settings, clock, tmp_path) -> Iterator[BotServer]:
    settings = slack_settings.model_copy(update={"config_path": review_org(tmp_path)})
    with BotServer(settings, clock=clock) as server:
        yield server


def dms(slack, user: str, starting: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return eventually(lambda: [m for m in slack.messages_to(user) if text_of(m).startswith(starting)])


def modal(slack, callback_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    call = slack.wait_for(lambda c: c.method == "views.open" and view_of(c)["callback_id"] == callback_id)
    return view_of(call)


def view_of(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view


def send(bot, user: str, view: dict[str, Any], values: dict[str, Any]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    payload = view_submission_payload(user, view["callback_id"], values, private_metadata=view["private_metadata"])
    return post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)


def typed(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def new_review_values(starts: datetime, **overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": typed("Extra review after the breach"),
        "starts": {"value": {"type": "datetimepicker", "selected_date_time": int(starts.timestamp())}},
        "duration": typed("60"),
        "chair": {"value": {"type": "users_select", "selected_user": "U0MIA"}},
        "attendees": typed("alice, sam@example.org"),
        "location": typed("Video call"),
    }
    values.update(overrides)
    return values


def test_the_isms_manager_calls_a_review_in_slack_and_a_past_date_is_refused(review_bot, slack, clock):
    bot = review_bot
    alice = SlackUser(bot.url, slack, "U0ALICE")
    assert alice.command("/isms", "review new")[0] == 200
    view = modal(slack, "review.new")
    assert [block["block_id"] for block in view["blocks"]] == [
        "title",
        "starts",
        "duration",
        "chair",
        "attendees",
        "location",
    ]

    status, body = send(bot, "U0ALICE", view, new_review_values(berlin(2026, 11, 1, 10, 0), duration=typed("5")))
    assert status == 200 and json.loads(body) == {
        "response_action": "errors",
        "errors": {
            "starts": "That time has passed: pick a time in the future.",
            "duration": "Give the length in minutes, from 15 to 480.",
        },
    }
    status, body = send(bot, "U0ALICE", view, new_review_values(berlin(2026, 12, 10, 14, 0), attendees=typed("bob")))
    assert json.loads(body)["errors"] == {"attendees": "Not in the organisation file: bob."}
    with bot.runtime.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Review)) == 0

    assert send(bot, "U0ALICE", view, new_review_values(berlin(2026, 12, 10, 14, 0))) == (200, "")
    invite = dms(slack, "U0SAM", "You are invited: Extra review after the breach REV-2026-01")
    assert "Thu 10 Dec 2026, 14:00 (Europe/Berlin), 60 min" in text_of(invite[0])
    assert "Mia Moreau" in text_of(invite[0]) and "Video call" in text_of(invite[0])
    assert dms(slack, "U0MIA", "You are invited: Extra review after the breach")
    assert dms(slack, "U0ALICE", "You are invited: Extra review after the breach")
    with bot.runtime.ctx.read() as session:
        review = session.scalars(select(Review).where(Review.origin == "chat")).one()
    assert (review.origin, review.chair, review.people) == ("chat", "mia", ["mia", "alice", "sam"])
    assert review.pack_due_at == berlin(2026, 12, 3, 14, 0)  # seven days ahead, as the file says


def test_an_employee_cannot_call_a_review(review_bot, slack):
    erin = SlackUser(bot_url := review_bot.url, slack, "U0ERIN")
    status, reply = erin.command("/isms", "review new")
    assert status == 200 and bot_url
    assert "calling a management review is for ISMS manager only" in erin.reply_text(reply)
    assert not [c for c in slack.calls_to("views.open") if view_of(c)["callback_id"] == "review.new"]


def test_the_pack_reaches_the_attendees_and_the_chair_records_decisions_from_it(review_bot, slack, clock):
    bot = review_bot
    assert bot.scheduler.tick()
    clock.set(berlin(2027, 3, 8, 10, 0))
    assert bot.scheduler.tick()
    pack = dms(slack, "U0MIA", "Input pack for Management review REV-2027-01")
    assert "No audit results recorded in the 12 months before this review." in text_of(pack[0])
    assert dms(slack, "U0OLGA", "Input pack for Management review REV-2027-01")
    button = next(
        element
        for block in pack[0]["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "review.decide"
    )

    clock.set(berlin(2027, 3, 15, 12, 0))
    payload = block_actions_payload("U0MIA", "review.decide", button["value"])
    assert SlackUser(bot.url, slack, "U0MIA").interact(payload) == 200
    view = modal(slack, "review.decide")
    assert view["title"]["text"] == "Decisions of REV-2027-01"
    status, body = send(
        bot, "U0MIA", view, {"decisions": typed("Budget approved"), "actions": typed("Train staff; olga")}
    )
    assert json.loads(body)["errors"] == {"actions": "Line 1: write it as: what; owner; YYYY-MM-DD."}
    status, body = send(
        bot,
        "U0MIA",
        view,
        {"decisions": typed("Budget approved"), "actions": typed("Train all staff on phishing; olga; 2027-05-31")},
    )
    assert (status, body) == (200, "")
    decided = dms(slack, "U0OLGA", "Decisions of Management review REV-2027-01 are recorded")
    assert "Train all staff on phishing (Olga Ortiz, due 2027-05-31): CHG-2027-0001" in text_of(decided[0])
    with bot.runtime.ctx.read() as session:
        made = session.scalars(select(Change)).one()
    assert (made.ref, made.origin_process, made.origin_ref, made.requester) == (
        "CHG-2027-0001",
        "GOV",
        "REV-2027-01",
        "mia",
    )
    # Mia asked for the change (she recorded the action), so the ISMS manager approves it.
    assert dms(slack, "U0ALICE", "Change CHG-2027-0001 waits for your decision: Train all staff on phishing")

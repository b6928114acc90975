"""A campaign through Slack's signed requests against the Slack double: the ISMS manager's modal (with
its field errors), everybody's DM with the button, a reminder from the scheduler's tick, a second press
told it is already done, and the progress list."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from storage.models.awareness import Campaign
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import FORM_CONTENT_TYPE, block_actions_payload, interactivity_body, post_signed
from tests.slack_client import SlackUser, text_of
from tests.support import eventually
from tests.test_changes_slack import chosen, opened_modal, submit_view, text
from tests.world import berlin

PEOPLE = ("U0ALICE", "U0SAM", "U0HANA", "U0ERIN", "U0OLGA", "U0DORA", "U0ALDO", "U0MIA")


def date(value: str) -> dict[str, Any]:
    return {"due": {"type": "datepicker", "selected_date": value}}


def form(**overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": chosen("training"),
        "title": text("Phishing basics"),
        "link": text("https://learn.example.org/phishing"),
        "text": text("Twenty minutes on spotting phishing mails."),
        "audience_kind": chosen("everyone"),
        "due": date("2026-12-04"),
        "reminders": text("7, 1"),
    }
    values.update(overrides)
    return values


def dms(slack, user: str, containing: str, count: int = 1) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    found = eventually(lambda: [m for m in slack.messages_to(user) if containing in text_of(m)][count - 1 :])
    assert found, f"no DM to {user} containing {containing!r}"
    return [m for m in slack.messages_to(user) if containing in text_of(m)]


def press(bot, slack, user: str, value: str, name: str) -> str:  # type: ignore[no-untyped-def]
    """Press "done" in a DM; returns the response_url (one per press) the bot answers on."""
    response_url = slack.response_url(name)
    payload = block_actions_payload(user, "awareness.done", value, response_url=response_url)
    status, _ = post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)
    assert status == 200
    return response_url


def done_button(message: dict[str, Any]) -> str:
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "awareness.done":
                assert element["text"]["text"] == "I have completed it"
                return str(element["value"])
    raise AssertionError("no awareness.done button")


def test_a_campaign_through_slack(bot, slack, clock):
    alice = SlackUser(bot.url, slack, "U0ALICE")
    status, _ = alice.command("/isms", "campaign new")
    assert status == 200
    modal = opened_modal(slack, "awareness.new")
    assert [block["block_id"] for block in modal["blocks"]] == [
        "kind",
        "title",
        "link",
        "text",
        "version",
        "audience_kind",
        "audience",
        "due",
        "reminders",
    ]

    status, body = submit_view(
        bot,
        "U0ALICE",
        "awareness.new",
        form(
            link=text("learn.example.org"), due=date("2026-11-01"), audience_kind=chosen("role"), audience=text("boss")
        ),
        modal["private_metadata"],
    )
    assert status == 200
    errors = json.loads(body)["errors"]
    assert errors["link"] == "Give a web link starting with https:// (or http://), without spaces."
    assert errors["due"] == "The due date has passed; pick a later one."
    assert errors["audience"].startswith("'boss' is not a role; use one of employee, owner,")
    with bot.runtime.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0

    status, body = submit_view(bot, "U0ALICE", "awareness.new", form(), modal["private_metadata"])
    assert (status, body) == (200, "")
    for user in PEOPLE:
        dms(slack, user, "Please complete the training “Phishing basics”")
    assert "Campaign AWR-0001 started" in text_of(dms(slack, "U0ALICE", "Campaign AWR-0001 started")[0])

    ask = dms(slack, "U0ERIN", "Please complete the training")[0]
    assert "https://learn.example.org/phishing" in text_of(ask)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    reply = press(bot, slack, "U0ERIN", done_button(ask), "erin-first")
    assert "Thank you: recorded that you have done the training “Phishing basics”" in erin.reply_text(reply)
    reply = press(bot, slack, "U0ERIN", done_button(ask), "erin-second")
    assert "You already confirmed “Phishing basics”" in erin.reply_text(reply)

    clock.set(berlin(2026, 11, 27, 9, 0))
    assert bot.scheduler.tick()
    reminder = "Reminder: please complete the training “Phishing basics” by Fri 04 Dec 2026"
    dms(slack, "U0SAM", reminder)
    assert not [m for m in slack.messages_to("U0ERIN") if reminder in text_of(m)]

    _, url = alice.command("/isms", "campaigns AWR-0001")
    listed = alice.reply_text(url)
    assert "1 of 8 (12%)" in listed
    assert "Still missing (7):" in listed
    assert "Erin Evans" not in listed.split("Still missing", 1)[1]

"""Change requests end to end through Slack's signed requests: the modal, approve/decline, the local
tracker command and the requester's verification, with the answers read from the Slack double."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from storage.models import Change
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
from tests.world import actions, change


def text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def chosen(value: str) -> dict[str, Any]:
    return {"value": {"type": "static_select", "selected_option": {"value": value}}}


def submit_view(bot, user: str, callback_id: str, values: dict[str, Any], metadata: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    payload = view_submission_payload(user, callback_id, values, private_metadata=metadata)
    return post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)


def click(bot, slack, user: str, action_id: str, value: str) -> str:  # type: ignore[no-untyped-def]
    """Press a button in a DM; returns the response_url the bot may answer on."""
    response_url = slack.response_url(f"{user}-{action_id}-{value}")
    payload = block_actions_payload(user, action_id, value, response_url=response_url)
    status, _ = post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)
    assert status == 200
    return response_url


def opened_modal(slack, callback_id: str, count: int = 1) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    call = slack.wait_for(lambda c: c.method == "views.open" and _view(c)["callback_id"] == callback_id, count=count)
    return _view(call)


def _view(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view


def dms(slack, user: str, containing: str) -> list[str]:  # type: ignore[no-untyped-def]
    return eventually(lambda: [text_of(m) for m in slack.messages_to(user) if containing in text_of(m)])


def request_through_the_modal(bot, slack, title: str = "Enforce MFA on the VPN") -> str:  # type: ignore[no-untyped-def]
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, _ = erin.command("/isms", "change")
    assert status == 200
    modal = opened_modal(slack, "change.request")
    assert [block["block_id"] for block in modal["blocks"]] == [
        "title",
        "description",
        "reason",
        "element",
        "element_other",
        "plan",
        "fallback",
        "priority",
        "significant",
    ]
    status, body = submit_view(
        bot,
        "U0ERIN",
        "change.request",
        {
            "title": text(title),
            "description": text("Require MFA for every VPN login"),
            "reason": text("Phished VPN password in INC-2026-0002"),
            "element_other": text("control: A.8.5 Secure authentication"),
            "plan": text("Enable in the IdP"),
            "fallback": text("Switch the policy off"),
            "priority": chosen("high"),
            "significant": chosen("no"),
        },
        modal["private_metadata"],
    )
    assert (status, body) == (200, "")
    recorded = dms(slack, "U0ERIN", "Your request for change")
    return recorded[-1].split("request for change ", 1)[1].split(" ", 1)[0]


def test_request_approve_implement_and_verify_through_slack(bot, slack):
    ref = request_through_the_modal(bot, slack)
    assert ref == "CHG-2026-0001"
    approval = dms(slack, "U0ALICE", "waits for your decision")
    assert f"Change {ref} waits for your decision: Enforce MFA on the VPN" in approval[0]
    assert "control: A.8.5 Secure authentication" in approval[0]

    click(bot, slack, "U0ALICE", "change.approve", ref)
    modal = opened_modal(slack, "change.approve")
    assert modal["title"]["text"] == f"Approve {ref}"
    status, body = submit_view(bot, "U0ALICE", "change.approve", {"reason": text("   ")}, modal["private_metadata"])
    assert status == 200 and json.loads(body) == {
        "response_action": "errors",
        "errors": {"reason": "Please fill in the reason for your decision."},
    }
    status, _ = submit_view(
        bot,
        "U0ALICE",
        "change.approve",
        {"reason": text("Mandatory after the phishing incident")},
        modal["private_metadata"],
    )
    assert status == 200
    assert dms(slack, "U0ERIN", "now has tracker issue LOCAL-1")

    alice = SlackUser(bot.url, slack, "U0ALICE")
    _, reply = alice.command("/isms", "ticket LOCAL-1 done MFA enforced for all 52 VPN users")
    assert f"LOCAL-1 ({ref}) is now Done (resolution: Done)." in alice.reply_text(reply)
    question = dms(slack, "U0ERIN", "Does it work as intended?")
    assert "MFA enforced for all 52 VPN users" in question[0]

    reply = click(bot, slack, "U0ERIN", "change.verify", ref)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    assert f"Thank you: {ref} is verified." in erin.reply_text(reply)
    assert dms(slack, "U0ERIN", f"Change {ref} is done: verified.")
    assert change(bot.runtime.ctx, ref).state == "verified"
    assert actions(bot.runtime.ctx, ref)[-2:] == ["IMP verified", "CHG closed"]
    # One DM about the request (issue 13): the answer to the form, not also "is recorded" a second time.
    about_the_request = [text_of(m) for m in slack.messages_to("U0ERIN") if "recorded" in text_of(m)]
    assert len(about_the_request) == 1
    assert f"Your request for change {ref} is recorded: Enforce MFA on the VPN" in about_the_request[0]
    assert "Next: approval by the ISMS manager." in about_the_request[0]


def test_an_employee_clicking_approve_is_refused(bot, slack):
    ref = request_through_the_modal(bot, slack)

    reply = click(bot, slack, "U0ERIN", "change.approve", ref)

    erin = SlackUser(bot.url, slack, "U0ERIN")
    assert "deciding on changes is for ISMS manager only" in erin.reply_text(reply)
    assert not [c for c in slack.calls_to("views.open") if _view(c)["callback_id"] == "change.approve"]
    assert change(bot.runtime.ctx, ref).state == "awaiting-approval"


def test_decline_through_slack_tells_the_requester(bot, slack):
    ref = request_through_the_modal(bot, slack)

    click(bot, slack, "U0ALICE", "change.decline", ref)
    modal = opened_modal(slack, "change.decline")
    submit_view(
        bot, "U0ALICE", "change.decline", {"reason": text("The IdP cannot do it before Q3")}, modal["private_metadata"]
    )

    assert dms(slack, "U0ERIN", f"Change {ref} was declined.")
    assert change(bot.runtime.ctx, ref).decision_reason == "The IdP cannot do it before Q3"


def test_an_empty_or_over_long_request_is_refused_on_the_fields(bot, slack):
    status, body = submit_view(
        bot,
        "U0ERIN",
        "change.request",
        {
            "title": text(""),
            "description": text("x" * 3001),
            "reason": text("because"),
            "priority": chosen("medium"),
            "significant": chosen("no"),
        },
        "CHG:chat",
    )

    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {
            "title": "Please fill in this field.",
            "description": "At most 3,000 characters, please (this has 3,001).",
        },
    }
    with bot.runtime.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Change)) == 0

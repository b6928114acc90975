"""Separation of duties through Slack's signed requests: whoever handed in evidence does not accept it,
whoever asked for a change does not approve it, and the organisation file's second reviewer is asked
instead when the only ISMS manager did the work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.server import BotServer
from storage.models import EvidenceRequest, Refusal
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
from tests.test_review_slack import modal, send, view_of
from tests.world import actions, berlin, change, org_file, records_about


def organisation(tmp_path: Path, second_reviewer: str | None) -> Path:
    """The example organisation (one ISMS manager, Alice) with the risk review in its programme and
    ``second_reviewer`` set (or left out with None)."""
    path = org_file(tmp_path, [{"activity": "RA/risk-review"}])
    org = yaml.safe_load(path.read_text(encoding="utf-8"))
    org["second_reviewer"] = second_reviewer
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def with_second(slack_settings, clock, tmp_path) -> Iterator[BotServer]:
    settings = slack_settings.model_copy(update={"config_path": organisation(tmp_path, "mia")})
    with BotServer(settings, clock=clock) as server:
        yield server


@pytest.fixture
def alone(slack_settings, clock, tmp_path) -> Iterator[BotServer]:
    settings = slack_settings.model_copy(update={"config_path": organisation(tmp_path, None)})
    with BotServer(settings, clock=clock) as server:
        yield server


def dms(slack, user: str, containing: str) -> list[str]:  # type: ignore[no-untyped-def]
    return eventually(lambda: [text_of(m) for m in slack.messages_to(user) if containing in text_of(m)])


def buttons_to(slack, user: str, action_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for message in slack.messages_to(user):
        for block in message.get("blocks") or []:
            for element in block.get("elements") or [] if block.get("type") == "actions" else []:
                if element["action_id"] == action_id:
                    found.append(element["value"])
    return found


def press(bot, slack, user: str, action_id: str, value: str) -> str:  # type: ignore[no-untyped-def]
    """Press a button; returns the response_url the bot answers a refusal on."""
    response_url = slack.response_url(f"{user}-{action_id}-{value}-{len(slack.calls)}")
    payload = block_actions_payload(user, action_id, value, response_url=response_url)
    status, _ = post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)
    assert status == 200
    return response_url


COVERS = {
    "covers_from": {"covers_from": {"type": "datepicker", "selected_date": "2026-10-01"}},
    "covers_to": {"covers_to": {"type": "datepicker", "selected_date": "2026-12-31"}},
}


def typed(**values: str) -> dict[str, Any]:
    return {name: {name: {"type": "plain_text_input", "value": value}} for name, value in values.items()}


def alice_answers_for_olga(bot, slack, clock) -> None:  # type: ignore[no-untyped-def]
    """The risk review is asked of Olga; Alice, the ISMS manager, answers it on her behalf in Slack."""
    assert bot.scheduler.tick()
    clock.set(berlin(2026, 12, 17, 17, 0))
    assert bot.scheduler.tick()
    dms(slack, "U0OLGA", "Evidence needed: Review the risks you own")
    press(bot, slack, "U0ALICE", "evidence.submit", buttons_to(slack, "U0OLGA", "evidence.submit")[0])
    status, body = send(
        bot, "U0ALICE", modal(slack, "evidence.submit"), {**typed(text="Reviewed with Olga.", link=""), **COVERS}
    )
    assert (status, body) == (200, "")


def refusals(bot) -> list[tuple[str, str, str, int]]:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.read() as session:
        return [(r.actor, r.process, r.attempted, r.count) for r in session.query(Refusal).order_by(Refusal.first_at)]


def test_the_isms_manager_cannot_accept_evidence_she_handed_in_and_the_second_reviewer_can(with_second, slack, clock):
    bot = with_second
    alice_answers_for_olga(bot, slack, clock)
    thanks = dms(slack, "U0ALICE", "Thank you. Your evidence for EV-1")
    assert "Mia Moreau (second reviewer) has been asked to review it." in thanks[0]
    review = dms(slack, "U0MIA", "Evidence to review from Alice Adams: Review the risks you own")
    assert "Reviewed with Olga." in review[0]
    assert not buttons_to(slack, "U0ALICE", "evidence.accept")

    value = buttons_to(slack, "U0MIA", "evidence.accept")[0]
    for _ in range(2):  # a repeated click is counted, not recorded twice
        reply = press(bot, slack, "U0ALICE", "evidence.accept", value)
        said = SlackUser(bot.url, slack, "U0ALICE").reply_text(reply)
        assert said.startswith(
            "Sorry, you handed in this evidence yourself, so somebody else has to decide on it. "
            "Mia Moreau has been asked. This attempt has been recorded."
        )
    assert not [c for c in slack.calls_to("views.open") if view_of(c)["callback_id"] == "evidence.accept"]
    records = [(who, what, data) for who, _, what, data in records_about(bot.runtime.ctx, "EV-1")]
    assert records[-1] == ("alice", "separation-refused", {"attempted": "reviewing evidence", "author": "alice"})
    assert refusals(bot) == [("alice", "RA", "reviewing evidence (own work)", 2)]

    press(bot, slack, "U0MIA", "evidence.accept", value)
    assert send(bot, "U0MIA", modal(slack, "evidence.accept"), typed(comment="Checked.")) == (200, "")
    assert dms(slack, "U0OLGA", "Accepted: your evidence for Review the risks you own")
    assert [what for _, _, what, _ in records_about(bot.runtime.ctx, "EV-1")] == [
        "asked",
        "submitted",
        "separation-refused",
        "accepted",
    ]
    assert records_about(bot.runtime.ctx, "EV-1")[-1][0] == "mia"


def test_without_a_second_reviewer_the_manager_is_told_nobody_else_can_accept(alone, slack, clock):
    bot = alone
    alice_answers_for_olga(bot, slack, clock)
    thanks = dms(slack, "U0ALICE", "Thank you. Your evidence for EV-1")
    assert "nobody else can review it yet" in thanks[0]
    assert not buttons_to(slack, "U0ALICE", "evidence.accept")
    # Mia holds no ISMS role and is not the second reviewer here: she is refused for lack of a role.
    reply = press(bot, slack, "U0MIA", "evidence.accept", "1:1")
    assert "reviewing evidence is for ISMS manager only" in SlackUser(bot.url, slack, "U0MIA").reply_text(reply)

    reply = press(bot, slack, "U0ALICE", "evidence.accept", "1:1")
    said = SlackUser(bot.url, slack, "U0ALICE").reply_text(reply)
    assert said.startswith("Sorry, you handed in this evidence yourself, so somebody else has to decide on it.")
    assert "the organisation file can name a second reviewer (second_reviewer)" in said
    with bot.runtime.ctx.read() as session:
        assert session.query(EvidenceRequest).one().status == "submitted"


def request_change_as(bot, slack, user: str) -> str:  # type: ignore[no-untyped-def]
    status, _ = SlackUser(bot.url, slack, user).command("/isms", "change")
    assert status == 200
    view = modal(slack, "change.request")
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Turn on disk encryption"}},
        "description": {"value": {"type": "plain_text_input", "value": "BitLocker on every laptop"}},
        "reason": {"value": {"type": "plain_text_input", "value": "Lost laptop last month"}},
        "priority": {"value": {"type": "static_select", "selected_option": {"value": "high"}}},
        "significant": {"value": {"type": "static_select", "selected_option": {"value": "no"}}},
    }
    payload = view_submission_payload(user, "change.request", values, private_metadata=view["private_metadata"])
    status, body = post_signed(
        bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE
    )
    assert (status, body) == (200, "")
    return "CHG-2026-0001"


def test_an_approver_cannot_approve_her_own_change_and_the_second_reviewer_is_asked(with_second, slack, clock):
    bot = with_second
    ref = request_change_as(bot, slack, "U0ALICE")
    recorded = dms(slack, "U0ALICE", f"Your request for change {ref} is recorded")
    assert "Next: approval by Mia Moreau (second reviewer)." in recorded[0]
    assert dms(slack, "U0MIA", f"Change {ref} waits for your decision: Turn on disk encryption")
    assert not [m for m in slack.messages_to("U0ALICE") if "waits for your decision" in text_of(m)]

    reply = press(bot, slack, "U0ALICE", "change.approve", ref)
    assert (
        SlackUser(bot.url, slack, "U0ALICE")
        .reply_text(reply)
        .startswith(
            "Sorry, you requested this change yourself, so somebody else has to decide on it. "
            "Mia Moreau has been asked. This attempt has been recorded."
        )
    )
    assert change(bot.runtime.ctx, ref).state == "awaiting-approval"
    assert actions(bot.runtime.ctx, ref) == ["CHG requested", "CHG separation-refused"]

    press(bot, slack, "U0MIA", "change.approve", ref)
    view = modal(slack, "change.approve")
    assert send(bot, "U0MIA", view, {"reason": {"value": {"type": "plain_text_input", "value": "Agreed"}}}) == (
        200,
        "",
    )
    assert dms(slack, "U0ALICE", f"Change {ref} is approved")
    assert change(bot.runtime.ctx, ref).decided_by == "mia"


def test_a_change_an_employee_asked_for_still_goes_to_the_isms_manager(with_second, slack, clock):
    bot = with_second
    ref = request_change_as(bot, slack, "U0ERIN")
    assert dms(slack, "U0ALICE", f"Change {ref} waits for your decision")
    assert not [m for m in slack.messages_to("U0MIA") if "waits for your decision" in text_of(m)]
    reply = press(bot, slack, "U0MIA", "change.approve", ref)
    assert "deciding on changes is for ISMS manager only" in SlackUser(bot.url, slack, "U0MIA").reply_text(reply)

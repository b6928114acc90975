"""A campaign for the members of a Slack channel (issue 12), through signed Slack requests against the
Slack double: the members are read when the campaign starts (over several pages), bots are skipped,
members the organisation file does not list are named to the ISMS manager, an unknown channel and a
Slack failure leave nothing started with the reason told, and the console refuses such an audience."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select

from bot.runtime import build_runtime
from config.awareness_settings import PolicyEntry
from integrations.slack_channels import SlackChannels
from integrations.slack_sender import make_web_client
from storage.models.awareness import Campaign
from tests.awareness_support import assignments
from tests.conftest import BOT_TOKEN
from tests.slack_client import SlackUser, text_of
from tests.support import eventually
from tests.test_awareness_slack import dms, form
from tests.test_changes_slack import chosen, opened_modal, submit_view, text
from tests.test_console import scripted
from tests.test_policies_slack import DOCUMENT, button_values, click
from tests.test_policies_slack import form as policy_form
from tests.world import records_about
from workflows.kernel.channels import ChannelMember, ChannelsUnavailable, UnknownChannel


def start(bot, slack, audience: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Alice opens the campaign form and asks for the members of ``audience``."""
    alice = SlackUser(bot.url, slack, "U0ALICE")
    opened = len(slack.calls_to("views.open"))
    assert alice.command("/isms", "campaign new")[0] == 200
    modal = opened_modal(slack, "awareness.new", count=opened + 1)
    values = form(audience_kind=chosen("channel"), audience=text(audience))
    return submit_view(bot, "U0ALICE", "awareness.new", values, modal["private_metadata"])


def campaigns(bot) -> int:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.read() as session:
        return int(session.scalar(select(func.count()).select_from(Campaign)) or 0)


def not_started(slack) -> str:  # type: ignore[no-untyped-def]
    return eventually(lambda: next((t for t in map(text_of, slack.messages_to("U0ALICE")) if "not started" in t), ""))


def test_a_campaign_for_a_channel_reaches_exactly_its_people(bot, slack):  # type: ignore[no-untyped-def]
    slack.add_user("U0BUILD", "build-bot@example.org", bot=True)
    slack.add_user("U0GUEST", "guest@partner.example")
    slack.add_channel("engineering", ["U0SAM", "U0ERIN", "U0OLGA", "U0BUILD", "U0GUEST"])
    slack.add_channel("random", ["U0ALICE", "U0MIA"])
    slack.members_page = 3  # the six members (with the bot) come in two pages

    assert start(bot, slack, "#engineering") == (200, "")

    reply = text_of(dms(slack, "U0ALICE", "Campaign AWR-0001 started")[0])
    for user in ("U0SAM", "U0ERIN", "U0OLGA"):
        dms(slack, user, "Please complete the training “Phishing basics”")
    assert assignments(bot.runtime.ctx) == {"sam": "open", "erin": "open", "olga": "open"}
    assert not [m for m in slack.messages_to("U0ALICE") if "Please complete" in text_of(m)]
    assert not slack.messages_to("U0BUILD") and not slack.messages_to("U0GUEST")
    assert "the members of Slack channel #engineering" in reply
    assert "Not included, because the organisation file does not list them (1): guest@partner.example." in reply
    assert "build-bot" not in reply

    pages = slack.calls_to("conversations.members")
    assert [call.args.get("cursor") for call in pages] == [None, "3"]
    asked = [call.args["user"] for call in slack.calls_to("users.info")]
    assert (asked.count("U0BUILD"), asked.count("U0GUEST")) == (1, 1)  # once each, to see who they are
    started = [
        data for _, _, action, data in records_about(bot.runtime.ctx, "AWR-0001") if action == "campaign-started"
    ]
    assert started[0]["audience"] == "channel:#engineering"
    assert (started[0]["people"], started[0]["unmapped"]) == (3, 1)
    assert started[0]["unmapped_members"] == ["guest@partner.example"]


def test_a_channel_by_id_and_people_found_by_email(bot, slack):  # type: ignore[no-untyped-def]
    slack.add_user("U9DORA", "Dora@Example.org")  # another Slack id than the file's: matched by e-mail
    channel = slack.add_channel("audit-team", ["U0ALDO", "U9DORA"], private=True)

    assert start(bot, slack, channel) == (200, "")

    dms(slack, "U0ALICE", "Campaign AWR-0001 started")
    assert assignments(bot.runtime.ctx) == {"dora": "open", "aldo": "open"}
    assert not slack.calls_to("conversations.list")  # an id needs no look-up by name


def test_an_unknown_or_hidden_channel_is_refused_and_nothing_is_stored(bot, slack):  # type: ignore[no-untyped-def]
    slack.add_channel("board", ["U0MIA"], private=True, bot_in=False)

    assert start(bot, slack, "#nowhere") == (200, "")
    assert (
        "The campaign was not started: Slack shows me no channel #nowhere; check the name, "
        "or add the bot to it if it is private."
    ) in not_started(slack)
    assert start(bot, slack, "#board") == (200, "")  # private, and the bot is not in it
    eventually(lambda: len([m for m in slack.messages_to("U0ALICE") if "no channel #board" in text_of(m)]) == 1)
    assert campaigns(bot) == 0

    status, body = start(bot, slack, "Not a channel!")  # refused on the field, before Slack's ack
    assert status == 200 and "Give the channel as #name or as its id" in body
    assert campaigns(bot) == 0


def test_slack_failing_at_start_leaves_the_campaign_not_started(bot, slack):  # type: ignore[no-untyped-def]
    channel = slack.add_channel("engineering", ["U0SAM", "U0ERIN"])
    slack.fail_next("conversations.members", 503)

    assert start(bot, slack, channel) == (200, "")

    told = not_started(slack)
    assert f"The campaign was not started: Slack could not tell me who is in {channel}" in told
    assert "please try again later." in told
    assert campaigns(bot) == 0 and not slack.messages_to("U0SAM")

    assert start(bot, slack, channel) == (200, "")  # once Slack answers again, the same form works
    dms(slack, "U0ALICE", "Campaign AWR-0001 started")
    assert assignments(bot.runtime.ctx) == {"sam": "open", "erin": "open"}


def test_a_policy_for_a_channel_is_acknowledged_by_its_members(bot, slack):  # type: ignore[no-untyped-def]
    slack.add_file("F0POLICY", "access.pdf", DOCUMENT)
    slack.add_channel("security-team", ["U0SAM", "U0HANA"])
    alice = SlackUser(bot.url, slack, "U0ALICE")
    alice.command("/isms", "policy new")
    modal = opened_modal(slack, "policy.new")
    values = policy_form("U0MIA") | {"audience_kind": chosen("channel"), "audience": text("#security-team")}

    assert submit_view(bot, "U0ALICE", "policy.new", values, modal["private_metadata"]) == (200, "")
    assert not slack.calls_to("conversations.members")  # read when the version is approved, not in the form
    version = button_values(dms(slack, "U0MIA", "waits for your approval")[0])["policy.approve"]
    click(bot, slack, "U0MIA", "policy.approve", version, "mia-approves")
    eventually(lambda: assignments(bot.runtime.ctx))
    assert bot.scheduler.tick()  # the tick sends the acknowledgement DMs

    for user in ("U0SAM", "U0HANA"):
        dms(slack, user, "Please read and accept the policy “Access control”, version 1.0")
    assert assignments(bot.runtime.ctx) == {"sam": "open", "hana": "open"}


def test_the_console_refuses_a_channel_audience(settings, clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    lines: list[Any] = [
        "/isms campaign new",
        "1",
        "Phishing basics",
        "https://learn.example.org/phishing",
        "",
        "",
        "6",  # a Slack channel's members
        "#engineering",
        "2026-12-04",
        "",
        "/cancel",  # asked again for the channel: given up
        "/quit",
    ]
    console, output = scripted(lines)
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")

    console.run()

    text_out = "\n".join(output)
    assert (
        "! Which role, department, people, group or channel: Slack is not connected here, so I cannot read a "
        "channel's members; start this campaign from Slack, or choose another audience."
    ) in text_out
    assert "Cancelled: nothing from “New campaign” was saved." in text_out
    with runtime.ctx.read() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_double_pages_members_as_slack_does(slack):  # type: ignore[no-untyped-def]
    client = make_web_client(BOT_TOKEN, slack.base_url)
    channel = slack.add_channel("general", ["U0SAM", "U0ERIN", "U0OLGA", "U0MIA"])
    first = client.conversations_members(channel=channel, limit=3)
    second = client.conversations_members(channel=channel, limit=3, cursor=first["response_metadata"]["next_cursor"])
    assert first["members"] + second["members"] == ["U0ERIN", "U0MIA", "U0OLGA", "U0SAM", "UBOT"]
    assert second["response_metadata"]["next_cursor"] == ""
    hidden = slack.add_channel("board", ["U0MIA"], private=True, bot_in=False)
    for wrong in ("C0NOPE", hidden):
        with pytest.raises(SlackApiError) as refused:
            client.conversations_members(channel=wrong)
        assert refused.value.response["error"] == "channel_not_found"


def test_the_adapter_tells_unknown_from_unavailable(slack):  # type: ignore[no-untyped-def]
    channels = SlackChannels(make_web_client(BOT_TOKEN, slack.base_url))
    channel = slack.add_channel("general", ["U0SAM", "U0ERIN"])
    assert channels.channel_id("general") == channel and channels.channel_id("nowhere") is None
    assert channels.members(channel, known={"U0SAM"}) == [
        ChannelMember("U0ERIN", "erin@example.org"),
        ChannelMember("U0SAM"),
    ]
    slack.fail_next("conversations.members", 200, error="not_in_channel")
    with pytest.raises(UnknownChannel):
        channels.members(channel)
    slack.fail_next("conversations.members", 429, retry_after=30)
    with pytest.raises(ChannelsUnavailable, match="ratelimited"):
        channels.members(channel)


def test_the_organisation_file_may_name_a_channel_as_a_policys_audience():
    entry = {
        "id": "POL-ACCESS",
        "title": "Access control",
        "owner": "alice",
        "approver": "mia",
        "version": "1.0",
        "link": "https://intranet.example.org/access.pdf",
        "next_review": "2027-06-30",
    }
    assert PolicyEntry.model_validate(entry | {"audience": "channel:#engineering"}).audience == "channel:#engineering"
    with pytest.raises(ValidationError):
        PolicyEntry.model_validate(entry | {"audience": "slack:#engineering"})

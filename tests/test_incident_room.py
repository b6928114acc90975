"""The incident channel (issue 13), end to end in Slack mode: signed requests into the real server,
Slack answered by the double, the scheduler's tick run by hand on the controlled clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import Incident, IncidentRoom, OutboxEffect
from tests.slack_client import SlackUser, text_of
from tests.support import eventually, settle
from tests.test_incidents_slack import (
    TRIAGE,
    opened_view,
    press,
    records_of,
    ref_in,
    submit,
    triage_post,
    wait_line,
)
from tests.world import World, make_world
from workflows.kernel.process import run_due_work

TEAM_AND_CONTACTS = {"UBOT", "U0HANA", "U0SAM", "U0ALICE", "U0MIA"}
"""The bot, the security team (Hana, Sam) and the emergency contacts of the example organisation
(Alice, Sam, Mia)."""


def report(user: SlackUser, text: str) -> str:
    _, reply = user.command("/incident", text)
    return ref_in(user.reply_text(reply))


def pinned_summary(slack, channel: str):  # type: ignore[no-untyped-def]
    """The summary post in the incident channel, once it is pinned."""
    pin = slack.wait_for(lambda c: c.method == "pins.add" and c.args.get("channel") == channel and c.response["ok"])
    return next(
        c for c in slack.calls_to("chat.postMessage") if c.response and c.response.get("ts") == pin.args["timestamp"]
    )


def room_row(bot, ref: str) -> IncidentRoom | None:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        incident = session.scalar(select(Incident).where(Incident.ref == ref))
        return session.scalar(select(IncidentRoom).where(IncidentRoom.incident_id == incident.id))


def latest_triage(slack, post) -> str:  # type: ignore[no-untyped-def]
    ts = post.response["ts"]
    updates = [c for c in slack.calls_to("chat.update") if c.args.get("channel") == TRIAGE and c.args["ts"] == ts]
    return text_of((updates[-1] if updates else post).args)


def failed_once(bot, key: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether the outbox has written down the failed first attempt of effect ``key``."""
    with bot.runtime.ctx.sessions() as session:
        effect = session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
        return effect is not None and effect.status == "pending" and effect.attempts == 1


def test_a_p1_gets_one_private_channel_with_the_team_and_a_pinned_summary_kept_up_to_date(bot, slack):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    ref = report(erin, "Ransomware note on the file server — everything encrypted!")
    post = triage_post(slack, ref)

    press(sam, "incident.severity.P1", ref)
    slack.wait_for(lambda c: c.method == "conversations.create")
    settle(bot)

    [channel] = slack.channels()
    assert channel["name"] == "inc-2026-0001-ransomware-note-on-the-file-server-everything-encrypted"
    assert channel["is_private"] is True and channel["is_archived"] is False
    assert set(channel["members"]) == TEAM_AND_CONTACTS
    summary = pinned_summary(slack, channel["id"])
    assert slack.pinned(channel["id"]) == [summary.response["ts"]]
    shown = text_of(summary.args)
    assert shown.startswith(f"Summary: {ref} [P1 Critical] Incident, being handled")
    assert "Reported by*\nErin Evans" in shown and "Add to incident timeline" in shown
    assert not [b for b in summary.args["blocks"] if b["type"] == "actions"]  # the buttons stay in triage
    wait_line(slack, post, f"Incident channel #{channel['name']} opened (severity P1); invited ")

    # The tick copies Slack's channel id and links the channel from the triage post.
    run_due_work(bot.runtime.ctx)
    settle(bot)
    assert f"https://slack.com/app_redirect?channel={channel['id']}" in latest_triage(slack, post)
    assert room_row(bot, ref).channel_id == channel["id"]
    actions = [r.action for r in records_of(bot, ref)]
    assert "room-opened" in actions and "room-created" in actions
    alice = SlackUser(bot.url, slack, "U0ALICE")  # the ISMS manager's /isms status counts the channels
    _, reply = alice.command("/isms", "status")
    assert "Incident channels: 1 open, 1 channel opened in all" in alice.reply_text(reply)
    opened = next(json.loads(r.data) for r in records_of(bot, ref) if r.action == "room-opened")
    assert opened["why"] == "severity P1" and set(opened["invited"]) == {"hana", "sam", "alice", "mia"}

    # A change of severity updates the pinned summary in place; still one channel.
    press(sam, "incident.severity.P2", ref)
    update = slack.wait_for(
        lambda c: c.method == "chat.update" and c.args["channel"] == channel["id"] and "P2 High" in c.args["text"]
    )
    assert update.args["ts"] == summary.response["ts"]
    assert len(slack.channels()) == 1 and len(slack.calls_to("conversations.create")) == 1


@pytest.mark.parametrize("lost", ["500", "close"])
def test_a_lost_answer_to_the_create_finds_the_channel_instead_of_a_second_one(bot, slack, clock, lost):
    slack.lose_answers("conversations.create", lost)
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    ref = report(erin, "Attacker inside the VPN")
    press(sam, "incident.severity.P1", ref)
    eventually(lambda: failed_once(bot, f"inc:{ref}:room"))
    clock.advance(seconds=5)  # the retry's backoff has passed
    bot.runtime.dispatcher.wake()
    slack.wait_for(lambda c: c.method == "conversations.list")
    settle(bot)

    creates = slack.calls_to("conversations.create")
    assert [c.response["error"] if c.response and not c.response["ok"] else "lost" for c in creates] == [
        "lost",
        "name_taken",
    ]
    [channel] = slack.channels()
    assert set(channel["members"]) == TEAM_AND_CONTACTS
    invites = slack.calls_to("conversations.invite")
    assert {c.args["channel"] for c in invites} == {channel["id"]}
    assert len(slack.pinned(channel["id"])) == 1
    run_due_work(bot.runtime.ctx)
    assert room_row(bot, ref).channel_id == channel["id"]


def test_a_lost_answer_to_an_invitation_is_repeated_harmlessly(bot, slack, clock):
    slack.lose_answers("conversations.invite", "500")
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    ref = report(erin, "Fraudulent wire transfer request")
    press(sam, "incident.severity.P1", ref)
    eventually(lambda: failed_once(bot, f"inc:{ref}:room:invite:sam"))
    clock.advance(seconds=5)
    bot.runtime.dispatcher.wake()
    again = slack.wait_for(
        lambda c: c.method == "conversations.invite" and (c.response or {}).get("error") == "already_in_channel"
    )
    assert again.args["users"] == "U0SAM"
    settle(bot)
    [channel] = slack.channels()
    assert set(channel["members"]) == TEAM_AND_CONTACTS
    with bot.runtime.ctx.sessions() as session:
        states = set(session.scalars(select(OutboxEffect.status).where(OutboxEffect.key.like(f"inc:{ref}:room%"))))
    assert states == {"sent"}


def test_a_p3_has_no_channel_until_somebody_of_the_team_presses_the_button(bot, slack):
    erin, hana = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0HANA")
    ref = report(erin, "Clicked a phishing link, nothing entered")
    post = triage_post(slack, ref)
    press(hana, "incident.severity.P3", ref)
    wait_line(slack, post, "Hana Hart set severity P3 (Medium).")
    settle(bot)
    assert slack.channels() == [] and not slack.calls_to("conversations.create")
    buttons = [
        e["action_id"]
        for c in slack.calls_to("chat.update")
        if c.args["channel"] == TRIAGE
        for b in c.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert "incident.open_room" in buttons

    # Somebody without a triage role may not open it: refused politely, and recorded.
    answer = press(erin, "incident.open_room", ref)
    assert "opening incident channels" in erin.reply_text(answer)
    assert slack.channels() == []

    answer = press(hana, "incident.open_room", ref)
    assert f"The incident channel for {ref} is being opened" in hana.reply_text(answer)
    slack.wait_for(lambda c: c.method == "pins.add")
    settle(bot)
    [channel] = slack.channels()
    assert channel["name"] == "inc-2026-0001-clicked-a-phishing-link-nothing-entered"
    assert set(channel["members"]) == TEAM_AND_CONTACTS
    wait_line(slack, post, "opened (asked by Hana Hart)")

    again = press(hana, "incident.open_room", ref)
    assert f"{ref} already has its incident channel." in hana.reply_text(again)
    assert len(slack.calls_to("conversations.create")) == 1


def test_the_channel_is_archived_at_the_configured_time_after_closure(bot, slack, clock):
    erin, sam, hana = (SlackUser(bot.url, slack, u) for u in ("U0ERIN", "U0SAM", "U0HANA"))
    ref = report(erin, "Customer database dumped on a paste site")
    post = triage_post(slack, ref)
    press(sam, "incident.severity.P2", ref)
    press(sam, "incident.assign", ref)
    submit(sam, opened_view(slack, "incident.assign"), {"handler": "U0HANA"})
    wait_line(slack, post, "Sam Shah made Hana Hart the handler.")
    settle(bot)
    run_due_work(bot.runtime.ctx)
    [channel] = slack.channels()

    press(hana, "incident.close", ref)
    submit(hana, opened_view(slack, "incident.close"), {"root_cause": "Test data copied", "lessons": "Mask data"})
    closed_at = clock()
    summary = slack.wait_for(
        lambda c: c.method == "chat.update" and c.args["channel"] == channel["id"] and "Closed:" in c.args["text"]
    )
    assert "This channel will be archived on Mon 30 Nov 2026, 10:00 (Europe/Berlin)." in text_of(summary.args)
    settle(bot)

    clock.set(closed_at + timedelta(days=7) - timedelta(minutes=1))
    run_due_work(bot.runtime.ctx)
    settle(bot)
    assert slack.channel(channel["name"])["is_archived"] is False

    clock.set(closed_at + timedelta(days=7))
    run_due_work(bot.runtime.ctx)
    slack.wait_for(lambda c: c.method == "conversations.archive")
    settle(bot)
    assert slack.channel(channel["name"])["is_archived"] is True
    run_due_work(bot.runtime.ctx)  # a second tick archives nothing again
    settle(bot)
    assert len(slack.calls_to("conversations.archive")) == 1
    assert f"#{channel['name']} (archived)" in latest_triage(slack, post)
    wait_line(slack, post, f"Incident channel #{channel['name']} archived.")
    actions = [r.action for r in records_of(bot, ref)]
    assert actions.count("room-archived") == 1 and "room-archive-planned" in actions


def test_a_bot_removed_from_the_channel_does_not_hold_up_the_incident(bot, slack):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    ref = report(erin, "Suspicious admin logins at night")
    post = triage_post(slack, ref)
    press(sam, "incident.severity.P1", ref)
    slack.wait_for(lambda c: c.method == "pins.add")
    settle(bot)
    [channel] = slack.channels()
    slack.remove_member(channel["id"], "UBOT")  # somebody took the bot out of the channel

    press(sam, "incident.severity.P2", ref)
    refused = slack.wait_for(
        lambda c: c.method == "chat.update" and c.args["channel"] == channel["id"] and not c.response["ok"]
    )
    assert refused.response["error"] == "not_in_channel"
    settle(bot)
    assert "[P2 High]" in latest_triage(slack, post)  # triage goes on
    with bot.runtime.ctx.sessions() as session:
        dead = session.scalar(select(OutboxEffect).where(OutboxEffect.status == "dead"))
    assert dead is not None and dead.key.startswith(f"inc:{ref}:room:summary:r")
    assert dead.last_error == "undeliverable: Slack refused: not_in_channel"  # shown in /isms outbox


def test_slack_refusing_the_channel_is_told_in_the_triage_thread(bot, slack):
    slack.fail_next("conversations.create", 200, error="restricted_action")
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    ref = report(erin, "Admin account used from abroad")
    post = triage_post(slack, ref)
    press(sam, "incident.severity.P1", ref)

    def failure_noticed() -> bool:
        run_due_work(bot.runtime.ctx)
        row = room_row(bot, ref)
        return row is not None and row.error is not None

    assert eventually(failure_noticed), "the failed create was never noticed"
    line = wait_line(slack, post, "could not be opened: Slack refused to create #inc-2026-0001-admin-account")
    assert "restricted_action" in text_of(line.args)
    assert slack.channels() == []
    assert eventually(lambda: "could not be opened" in latest_triage(slack, post))  # its own chat.update
    assert "room-failed" in [r.action for r in records_of(bot, ref)]


def test_not_an_incident_archives_the_channel_too_unless_it_is_reclassified_in_time(settings, clock):
    world = make_world(settings, clock)
    try:
        world.command("erin", "Odd traffic to a known bad address", name="/incident")
        ref = "INC-2026-0001"
        world.deliver()
        world.press("sam", "incident.severity.P2", ref)
        world.fill("sam", "incident.not_incident", {"reason": "A scheduled penetration test"}, ref)
        planned = world_room(world, ref).archive_at
        assert planned == clock() + timedelta(days=7)
        world.press("sam", "incident.classify", ref)  # the test was not scheduled after all
        assert world_room(world, ref).archive_at is None
        assert [a for _, a, _, _ in world.records(process="INC") if a.startswith("room-")] == [
            "room-opened",
            "room-archive-planned",
            "room-archive-cancelled",
        ]
        [summary] = [s for s in world.chat.sent if s.key == f"inc:{ref}:room:summary"]
        assert summary.to == "channel:inc-2026-0001-odd-traffic-to-a-known-bad-address"
        latest = [s for s in world.chat.sent if s.replaces == f"inc:{ref}:room:summary"][-1]
        assert latest.message.text.startswith(f"Summary: {ref} [P2 High] Incident, being handled")
    finally:
        world.close()


def world_room(world: World, ref: str) -> IncidentRoom:
    with world.ctx.read() as session:
        room = session.scalar(
            select(IncidentRoom).join(Incident, Incident.id == IncidentRoom.incident_id).where(Incident.ref == ref)
        )
    assert room is not None
    return room

"""Evidence requests end to end in Slack: signed requests into the real server, answers from the
Slack Web API double (DMs, modals, files.info and the file download, users.info timezones)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.server import BotServer
from storage.models import EvidenceFile, EvidenceRequest, EvidenceSubmission, OutboxEffect, PersonTimezone, Record
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import (
    FORM_CONTENT_TYPE,
    block_actions_payload,
    event_body,
    interactivity_body,
    post_signed,
    view_submission_payload,
)
from tests.slack_client import SlackUser, text_of
from tests.support import eventually
from tests.world import berlin, org_file

REGISTER = b"risk;owner;rating\nR1;olga;high\nR2;olga;low\n" * 50


@pytest.fixture
def evidence_bot(slack_settings, clock, tmp_path) -> Iterator[BotServer]:
    settings = slack_settings.model_copy(update={"config_path": org_file(tmp_path, [{"activity": "RA/risk-review"}])})
    with BotServer(settings, clock=clock) as server:
        yield server


def dm(slack, user: str, starting: str, count: int = 1):  # type: ignore[no-untyped-def]
    """The ``count``-th DM to ``user`` whose text starts with ``starting``."""
    return slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage" and c.args.get("channel") == user and text_of(c.args).startswith(starting)
        ),
        count=count,
    )


def buttons(call) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["action_id"]: e["value"] for b in call.args["blocks"] if b["type"] == "actions" for e in b["elements"]}


def click(bot, slack, user: str, action_id: str, value: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Press a button; returns the modal it opened."""
    before = len(slack.calls_to("views.open"))
    assert SlackUser(bot.url, slack, user).interact(block_actions_payload(user, action_id, value)) == 200
    return slack.wait_for("views.open", count=before + 1).args["view"]


def send_form(bot, view: dict[str, Any], user: str, state: dict[str, Any]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    payload = view_submission_payload(user, view["callback_id"], state, view["private_metadata"])
    return post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)


def typed(**values: str) -> dict[str, Any]:
    return {name: {name: {"type": "plain_text_input", "value": value}} for name, value in values.items()}


def dates(start: str, end: str) -> dict[str, Any]:
    return {
        "covers_from": {"covers_from": {"type": "datepicker", "selected_date": start}},
        "covers_to": {"covers_to": {"type": "datepicker", "selected_date": end}},
    }


def shared(*files: dict[str, Any]) -> dict[str, Any]:
    return {"files": {"files": {"type": "file_input", "files": list(files)}}}


def ask_olga(bot, slack, clock):  # type: ignore[no-untyped-def]
    assert bot.scheduler.tick()  # the programme is first seen on 23 November
    clock.set(berlin(2026, 12, 17, 17, 0))
    assert bot.scheduler.is_leader and bot.scheduler.tick()
    return dm(slack, "U0OLGA", "Evidence needed: Review the risks you own")


def effect_status(bot, key: str) -> str | None:  # type: ignore[no-untyped-def]
    """A short read each time: a session kept open would hold SQLite's write lock against the bot."""
    with bot.runtime.ctx.read() as session:
        return session.scalar(select(OutboxEffect.status).where(OutboxEffect.key == key))


def unsent_messages(bot) -> int:  # type: ignore[no-untyped-def]
    """Chat messages the outbox has not yet marked as sent."""
    with bot.runtime.ctx.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxEffect)
            .where(OutboxEffect.kind == "chat.message", OutboxEffect.status != "sent")
        )


def test_owner_submits_a_file_and_the_isms_manager_accepts_in_slack(evidence_bot, slack, clock):
    bot = evidence_bot
    slack.add_file("F0REGISTER", "risk-register.csv", REGISTER)
    ask = ask_olga(bot, slack, clock)
    assert "*Due*\nThu 31 Dec 2026, 17:00 (Europe/Berlin)" in text_of(ask.args)
    view = click(bot, slack, "U0OLGA", "evidence.submit", buttons(ask)["evidence.submit"])
    assert [b["block_id"] for b in view["blocks"]] == ["text", "link", "files", "covers_from", "covers_to"]

    file = {"id": "F0REGISTER", "name": "risk-register.csv", "size": len(REGISTER), "mimetype": "text/csv"}
    status, body = send_form(
        bot,
        view,
        "U0OLGA",
        {
            **typed(text="Quarterly review done; register attached.", link=""),
            **shared(file),
            **dates("2026-10-01", "2026-12-31"),
        },
    )
    assert (status, body) == (200, "")

    thanks = dm(slack, "U0OLGA", "Thank you. Your evidence for EV-1")
    assert "asked to review it" in text_of(thanks.args)
    review = dm(slack, "U0ALICE", "Evidence to review from Olga Ortiz: Review the risks you own")
    assert "risk-register.csv" in text_of(review.args)
    download = slack.wait_for("file_download")
    assert download.headers["authorization"] == "Bearer xoxb-test"
    assert eventually(lambda: effect_status(bot, "evidence-file:1") == "sent")
    bot.scheduler.tick()  # copies the fetched hash into the evidence and the records
    with bot.runtime.ctx.sessions() as session:
        stored = session.scalars(select(EvidenceFile)).one()
    assert (stored.name, stored.size, stored.sha256) == (
        "risk-register.csv",
        len(REGISTER),
        hashlib.sha256(REGISTER).hexdigest(),
    )

    view = click(bot, slack, "U0ALICE", "evidence.accept", buttons(review)["evidence.accept"])
    assert send_form(bot, view, "U0ALICE", typed(comment="Good, thanks.")) == (200, "")
    told = dm(slack, "U0OLGA", "Accepted: your evidence for Review the risks you own")
    assert "Alice Adams says: Good, thanks." in text_of(told.args)
    with bot.runtime.ctx.sessions() as session:
        request = session.scalars(select(EvidenceRequest)).one()
        assert request.status == "accepted"


def test_bad_input_in_the_modal_is_shown_on_its_field_and_nothing_is_stored(evidence_bot, slack, clock):
    bot = evidence_bot
    ask = ask_olga(bot, slack, clock)
    view = click(bot, slack, "U0OLGA", "evidence.submit", buttons(ask)["evidence.submit"])
    huge = {"id": "F0HUGE", "name": "backup.tar", "size": 26 * 1024 * 1024, "mimetype": "application/x-tar"}

    answers = [
        send_form(bot, view, "U0OLGA", {**typed(text="", link=""), **shared(), **dates("2026-10-01", "2026-12-31")}),
        send_form(
            bot,
            view,
            "U0OLGA",
            {
                **typed(text="see link", link="javascript:alert(document.cookie)"),
                **shared(),
                **dates("2026-10-01", "2026-12-31"),
            },
        ),
        send_form(
            bot, view, "U0OLGA", {**typed(text="", link=""), **shared(huge), **dates("2026-10-01", "2026-12-31")}
        ),
    ]

    assert [(status, json.loads(body)) for status, body in answers] == [
        (
            200,
            {
                "response_action": "errors",
                "errors": {"text": "Nothing to submit: say what was done, add a link or attach a file."},
            },
        ),
        (
            200,
            {"response_action": "errors", "errors": {"link": "Give a web address starting with http:// or https://."}},
        ),
        (200, {"response_action": "errors", "errors": {"files": "backup.tar is 26.0 MB; files may be at most 25 MB."}}),
    ]
    with bot.runtime.ctx.sessions() as session:
        assert session.scalars(select(EvidenceSubmission)).all() == []
        assert session.scalars(select(EvidenceRequest)).one().status == "open"


def test_rejection_reaches_the_owner_and_a_stale_button_says_what_happened(evidence_bot, slack, clock):
    bot = evidence_bot
    ask = ask_olga(bot, slack, clock)
    view = click(bot, slack, "U0OLGA", "evidence.submit", buttons(ask)["evidence.submit"])
    send_form(
        bot,
        view,
        "U0OLGA",
        {**typed(text="Done", link="https://wiki.example.org/q4"), **shared(), **dates("2026-10-01", "2026-12-31")},
    )
    review = dm(slack, "U0ALICE", "Evidence to review")
    olga = SlackUser(bot.url, slack, "U0OLGA")
    stale = slack.response_url("stale-click")
    olga.interact(
        block_actions_payload("U0OLGA", "evidence.snooze.3", buttons(ask)["evidence.snooze.3"], response_url=stale)
    )
    assert "was already answered by Olga Ortiz" in olga.reply_text(stale)

    view = click(bot, slack, "U0ALICE", "evidence.reject", buttons(review)["evidence.reject"])
    due = {"due": {"due": {"type": "datepicker", "selected_date": "2027-01-08"}}}
    assert send_form(bot, view, "U0ALICE", {**typed(comment="Which risks changed?"), **due}) == (200, "")

    again = dm(slack, "U0OLGA", "Please answer again: your evidence for Review the risks you own was not accepted")
    assert "Alice Adams says: Which risks changed?" in text_of(again.args)
    assert "evidence.submit" in buttons(again)


def test_app_home_lists_open_requests_and_slack_timezones_set_quiet_hours(evidence_bot, slack, clock):
    bot = evidence_bot
    slack.add_user("U0OLGA", "olga@example.org", tz="Asia/Tokyo")
    bot.scheduler.refresh_timezones()
    with bot.runtime.ctx.sessions() as session:
        assert session.get(PersonTimezone, "olga").tz == "Asia/Tokyo"  # type: ignore[union-attr]
    clock.set(berlin(2026, 12, 17, 17, 0))  # 01:00 in Tokyo: the request exists, the DM waits
    assert bot.scheduler.tick()
    with bot.runtime.ctx.read() as session:  # the tick is done: what it did not queue is not sent
        waiting = session.scalars(select(EvidenceRequest)).one()
        queued = session.scalars(select(OutboxEffect.key).where(OutboxEffect.kind == "chat.message")).all()
    assert (waiting.status, waiting.next_action_at) == ("open", berlin(2026, 12, 18, 0, 0))  # 08:00 in Tokyo
    assert queued == []
    clock.set(berlin(2026, 12, 18, 0, 0))  # 08:00 in Tokyo
    bot.scheduler.tick()
    ask = dm(slack, "U0OLGA", "Evidence needed")
    assert "Fri 01 Jan 2027, 01:00 (Asia/Tokyo)" in text_of(ask.args)

    body = event_body({"type": "app_home_opened", "user": "U0OLGA", "tab": "home", "channel": "D0OLGA"}, "EvHome1")
    assert post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, "application/json")[0] == 200
    published = slack.wait_for("views.publish")
    assert "EV-1 Review the risks you own (RA, 2026-Q4): due Fri 01 Jan 2027, 01:00 (Asia/Tokyo), open" in text_of(
        published.args["view"]
    )
    home_buttons = [
        e["action_id"] for b in published.args["view"]["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert home_buttons[:3] == ["evidence.submit", "evidence.not_applicable", "evidence.delegate"]


def test_throttling_during_a_fan_out_slows_sending_and_loses_or_doubles_nothing(slack_settings, slack, clock, tmp_path):
    settings = slack_settings.model_copy(update={"config_path": org_file(tmp_path)})  # the whole default programme
    slack.set_rate_limit("chat.postMessage", per_second=5, burst=5)
    with BotServer(settings, clock=clock) as bot:
        assert bot.scheduler.tick()  # the programme is first seen on 23 November 2026
        clock.set(berlin(2027, 1, 12, 10, 0))  # every activity has a request due by now
        assert bot.scheduler.tick()
        with bot.runtime.ctx.sessions() as session:
            asked = session.scalars(select(EvidenceRequest)).all()
        assert len(asked) >= 17

        # The outbox pauses Slack for Retry-After on the bot's (test) clock, so let that clock run.
        # Once every message is marked sent, the outbox has nothing left that it could send again.
        def all_sent() -> bool:
            clock.advance(seconds=1)
            bot.runtime.dispatcher.wake()
            return unsent_messages(bot) == 0

        assert eventually(all_sent, timeout=60)
    posts = slack.calls_to("chat.postMessage")
    sent = [(c.args["channel"], text_of(c.args).splitlines()[0]) for c in posts if c.args["channel"] != "C0REPORTS"]
    assert slack.throttled > 0
    assert len(sent) == len(set(sent)) == len(asked)
    assert {text for _, text in sent} == {f"Evidence needed: {r.title}" for r in asked}


def test_a_file_slack_cannot_give_is_recorded_as_not_fetched(evidence_bot, slack, clock):
    bot = evidence_bot
    ask = ask_olga(bot, slack, clock)
    view = click(bot, slack, "U0OLGA", "evidence.submit", buttons(ask)["evidence.submit"])
    gone = {"id": "F0DELETED", "name": "old-scan.pdf", "size": 2048, "mimetype": "application/pdf"}
    assert send_form(
        bot, view, "U0OLGA", {**typed(text="", link=""), **shared(gone), **dates("2026-10-01", "2026-12-31")}
    ) == (200, "")
    slack.wait_for(lambda c: c.method == "files.info" and c.args.get("file") == "F0DELETED")
    assert eventually(lambda: effect_status(bot, "evidence-file:1") == "dead")
    bot.scheduler.tick()
    with bot.runtime.ctx.sessions() as session:
        stored = session.scalars(select(EvidenceFile)).one()
        actions = [r.action for r in session.scalars(select(Record).where(Record.subject_id == "EV-1"))]
    assert (stored.name, stored.size, stored.sha256) == ("old-scan.pdf", 2048, None)
    assert stored.fetch_error == "undeliverable: Slack refused: file_not_found"
    assert actions == ["asked", "submitted", "file-not-fetched"]

"""Issue 9: the reporter's reference is never lost. Slack answers 429 or 500 once on each method the
incident flows call (chat.postMessage, chat.update, views.open, the response URL); every reply that
follows a stored change still arrives (through the outbox), and a form that cannot be opened is
answered with what to do instead."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import OutboxEffect
from tests.doubles.signing import message_shortcut_payload
from tests.slack_client import SlackUser, text_of
from tests.test_incidents_slack import (
    REPORT,
    TRIAGE,
    opened_view,
    press,
    ref_in,
    submit,
    triage_post,
    wait_dm,
)

FAULTS = [pytest.param(429, id="429"), pytest.param(500, id="500")]


def _fail(slack, method: str, status: int, times: int = 1) -> None:  # type: ignore[no-untyped-def]
    slack.fail_next(method, status, retry_after=1 if status == 429 else None, times=times)


def eventually(bot, clock, wait):  # type: ignore[no-untyped-def]
    """``wait(timeout)`` for what a retry delivers, moving the clock past each backoff (the outbox
    schedules retries on the bot's clock, which the tests hold still)."""
    for _ in range(30):
        try:
            return wait(0.3)
        except AssertionError:
            clock.advance(seconds=30)
            bot.runtime.dispatcher.wake()
    return wait(2.0)


def _rejected(slack, method: str) -> int:  # type: ignore[no-untyped-def]
    return sum(call.method == method for call in slack.rejected)


@pytest.mark.parametrize("status", FAULTS)
def test_quick_report_reply_survives_a_failing_response_url(bot, slack, clock, status):
    _fail(slack, "response_url", status)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    code, response_url = erin.command("/incident", "Someone tailgated me into the office")
    assert code == 200
    answer = eventually(bot, clock, lambda timeout: erin.reply_text(response_url, timeout=timeout))
    assert "Thank you. Your report is INC-2026-0001." in answer
    assert _rejected(slack, "response_url") == 1
    triage_post(slack, "INC-2026-0001")


@pytest.mark.parametrize("status", FAULTS)
def test_form_report_reference_survives_failing_posts(bot, slack, clock, status):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/incident")
    view = opened_view(slack, "incident.report")
    _fail(slack, "chat.postMessage", status, times=2)  # the DM with the reference and the triage post
    code, body = submit(erin, view, REPORT)
    assert code == 200 and body == ""
    dm = eventually(bot, clock, lambda t: wait_dm(slack, "U0ERIN", "Your report is INC-2026-0001", timeout=t))
    assert "/incident mine" in text_of(dm.args)
    eventually(bot, clock, lambda t: triage_post(slack, "INC-2026-0001", timeout=t))
    assert _rejected(slack, "chat.postMessage") == 2


@pytest.mark.parametrize("status", FAULTS)
def test_triage_update_and_reporter_news_survive_failing_posts_and_updates(bot, slack, clock, status):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    _, reply = erin.command("/incident", "Laptop stolen from my car")
    ref = ref_in(erin.reply_text(reply))
    triage_post(slack, ref)
    _fail(slack, "chat.update", status)
    _fail(slack, "chat.postMessage", status)
    _fail(slack, "response_url", status)
    press(sam, "incident.classify", ref)
    news = f"Your report {ref} is being handled as a security incident."
    eventually(bot, clock, lambda t: wait_dm(slack, "U0ERIN", news, timeout=t))
    updated = lambda c: c.method == "chat.update" and c.args.get("channel") == TRIAGE  # noqa: E731
    eventually(bot, clock, lambda t: slack.wait_for(updated, timeout=t))
    assert _rejected(slack, "chat.update") == 1 and _rejected(slack, "chat.postMessage") == 1


@pytest.mark.parametrize("status", FAULTS)
def test_refusal_reply_survives_a_failing_response_url(bot, slack, clock, status):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = erin.command("/incident", "Door left open")
    ref = ref_in(erin.reply_text(reply))
    _fail(slack, "response_url", status)
    response_url = press(erin, "incident.classify", ref)
    answer = eventually(bot, clock, lambda t: erin.reply_text(response_url, timeout=t))
    assert "This attempt has been recorded." in answer


@pytest.mark.parametrize("status", FAULTS)
def test_a_read_only_answer_is_queued_when_its_inline_post_fails(bot, slack, clock, status):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _fail(slack, "response_url", status)
    _, reply = erin.command("/isms", "help")
    assert "/incident" in eventually(bot, clock, lambda t: erin.reply_text(reply, timeout=t))
    with bot.runtime.ctx.sessions() as session:
        kinds = session.scalars(select(OutboxEffect.kind).where(OutboxEffect.key.like("reply:%"))).all()
    assert kinds == ["slack.respond"]


@pytest.mark.parametrize("status", [*FAULTS, pytest.param(200, id="expired_trigger_id")])
def test_report_form_that_cannot_open_says_what_to_do_instead(bot, slack, status):
    if status == 200:
        slack.fail_next("views.open", 200, error="expired_trigger_id")
    else:
        _fail(slack, "views.open", status)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    code, reply = erin.command("/incident")
    assert code == 200
    answer = erin.reply_text(reply)
    assert "Slack could not open the form" in answer and "/incident &lt;what happened&gt;" in answer


@pytest.mark.parametrize("status", FAULTS)
def test_shortcut_and_button_forms_that_cannot_open_say_so(bot, slack, status):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    _fail(slack, "views.open", status)
    message = {"type": "message", "user": "U0OLGA", "ts": "1763888400.000100", "text": "Odd mail"}
    response_url = slack.response_url("shortcut")
    payload = message_shortcut_payload(
        "U0ERIN", "report_incident", message, channel_id="C0GENERAL", response_url=response_url
    )
    assert erin.interact(payload) == 200
    assert "/incident" in erin.reply_text(response_url)

    _, reply = erin.command("/incident", "Odd mail")
    ref = ref_in(erin.reply_text(reply))
    _fail(slack, "views.open", status)
    answer = sam.reply_text(press(sam, "incident.assign", ref))
    assert "Slack could not open the form" in answer and "try again" in answer


def test_a_reply_whose_response_url_has_expired_goes_by_dm(bot, slack):
    slack.fail_next("response_url", 404, error="expired_url")
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/incident", "Phishing call pretending to be IT")
    wait_dm(slack, "U0ERIN", "Thank you. Your report is INC-2026-0001.")
    assert slack.responses == [] and _rejected(slack, "response_url") == 1

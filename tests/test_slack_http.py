"""The Slack surface end to end: signed HTTP requests into the real server, answers via the double."""

from __future__ import annotations

import json
import time
import urllib.request

from sqlalchemy import func, select

from storage.models import Record
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import FORM_CONTENT_TYPE, event_body, post_signed, slash_command_body
from tests.slack_client import SlackUser, text_of


def record_count(bot) -> int:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(Record))


def _answered_after(bot, slack) -> None:  # type: ignore[no-untyped-def]
    """A barrier: a good request sent after the refused one, answered. Listeners run in order of
    arrival, so had the refused request reached one, its answer and record would be there by now."""
    body = slash_command_body("/isms", "help", "U0ERIN", response_url=slack.response_url("good"))
    status, _ = post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, FORM_CONTENT_TYPE)
    assert status == 200
    slack.wait_for(lambda call: call.path.endswith("good"))


def test_bad_signature_is_refused_before_any_listener(bot, slack):
    body = slash_command_body("/isms", "outbox", "U0ERIN", response_url=slack.response_url("x"))
    status, _ = post_signed(bot.url + "/slack/events", "not-the-secret", body, FORM_CONTENT_TYPE)
    assert status == 401
    _answered_after(bot, slack)
    assert [call.path for call in slack.responses if call.path.endswith("x")] == []
    assert record_count(bot) == 0


def test_stale_timestamp_is_refused(bot, slack):
    body = slash_command_body("/isms", "outbox", "U0ERIN", response_url=slack.response_url("x"))
    six_minutes_ago = int(time.time()) - 360
    status, _ = post_signed(
        bot.url + "/slack/events", SIGNING_SECRET, body, FORM_CONTENT_TYPE, timestamp=six_minutes_ago
    )
    assert status == 401
    _answered_after(bot, slack)
    assert [call.path for call in slack.responses if call.path.endswith("x")] == []
    assert record_count(bot) == 0


def test_missing_signature_is_refused(bot):
    body = slash_command_body("/isms", "help", "U0ERIN").encode()
    request = urllib.request.Request(
        bot.url + "/slack/events", data=body, method="POST", headers={"Content-Type": FORM_CONTENT_TYPE}
    )
    try:
        urllib.request.urlopen(request, timeout=5)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 401


def test_help_answers_by_role(bot, slack):
    manager = SlackUser(bot.url, slack, "U0ALICE")
    employee = SlackUser(bot.url, slack, "U0ERIN")
    status, manager_reply = manager.command("/isms", "help")
    assert status == 200
    status, employee_reply = employee.command("/isms", "help")
    assert status == 200
    manager_text = manager.reply_text(manager_reply)
    employee_text = employee.reply_text(employee_reply)
    assert "/isms outbox" in manager_text and "ISMS manager" in manager_text
    assert "/isms outbox" not in employee_text
    assert "/incident" in employee_text and "owner" in employee_text


def test_unlisted_member_is_an_employee_in_the_example_organisation(bot, slack):
    slack.add_user("U0NEW", "newcomer@example.org")
    stranger = SlackUser(bot.url, slack, "U0NEW")
    _, reply = stranger.command("/isms", "help")
    text = stranger.reply_text(reply)
    assert "employee" in text and "/incident" in text and "/isms outbox" not in text


def test_employee_is_refused_manager_report_and_the_attempt_is_recorded(bot, slack):
    employee = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = employee.command("/isms", "outbox")
    assert "for ISMS manager only" in employee.reply_text(reply)
    with bot.runtime.ctx.sessions() as session:
        denied = session.scalars(select(Record).where(Record.action == "access-denied")).all()
    assert [(r.actor, json.loads(r.data)["attempted"]) for r in denied] == [("erin", "the delivery report")]


def test_app_home_shows_role_and_no_open_items(bot, slack):
    body = event_body({"type": "app_home_opened", "user": "U0SAM", "tab": "home", "channel": "D0SAM"}, "Ev001")
    status, _ = post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, "application/json")
    assert status == 200
    published = slack.wait_for("views.publish")
    assert published.args["user_id"] == "U0SAM"
    text = text_of(published.args["view"])
    assert "security team" in text and "You have no open items." in text


def test_retried_event_is_handled_once(bot, slack):
    body = event_body({"type": "app_home_opened", "user": "U0SAM", "tab": "home", "channel": "D0SAM"}, "Ev002")
    for retry in ("", "1"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        status, _ = post_signed(
            bot.url + "/slack/events", SIGNING_SECRET, body, "application/json", extra_headers=headers
        )
        assert status == 200
    slack.wait_for("views.publish")
    later = event_body({"type": "app_home_opened", "user": "U0HANA", "tab": "home", "channel": "D0HANA"}, "Ev003")
    post_signed(bot.url + "/slack/events", SIGNING_SECRET, later, "application/json")
    slack.wait_for("views.publish", count=2)  # a barrier: a retry handled twice would have published by now
    assert [call.args["user_id"] for call in slack.calls_to("views.publish")] == ["U0SAM", "U0HANA"]


def test_health_and_metrics(bot):
    with urllib.request.urlopen(bot.url + "/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok", "database": "ok"}
    with urllib.request.urlopen(bot.url + "/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'isms_outbox_effects{status="dead"} 0.0' in metrics
    assert "isms_http_requests_total" in metrics


def test_unknown_path_is_404(bot):
    try:
        urllib.request.urlopen(bot.url + "/nope", timeout=5)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 404

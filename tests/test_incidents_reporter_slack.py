"""The reporter's features in Slack mode: signed requests into the real server, answers read from the
Slack double as the person sees them."""

from __future__ import annotations

from tests.slack_client import SlackUser, text_of
from tests.test_incidents_slack import press, triage_post


def test_incident_help_and_list_answer_and_file_nothing(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = erin.command("/incident", "help")
    answer = erin.reply_text(reply)
    assert "Reporting security incidents" in answer and "/incident mine" in answer
    _, reply = erin.command("/incident", "list")
    answer = erin.reply_text(reply)
    assert "You have not reported any incidents." in answer and "recorded" not in answer
    assert not slack.calls_to("chat.postMessage")


def test_withdraw_button_withdraws_and_updates_the_triage_post(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = erin.command("/incident", "Somebody phoned and asked for my password")
    assert "Your report is INC-2026-0001" in erin.reply_text(reply)
    buttons = [e for b in slack.responses[-1].args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(e["action_id"], e["text"]["text"]) for e in buttons][-1] == ("incident.withdraw", "Withdraw")
    triage_post(slack, "INC-2026-0001")
    answer = erin.reply_text(press(erin, "incident.withdraw", "INC-2026-0001"))
    assert "You withdrew INC-2026-0001." in answer
    update = slack.wait_for(lambda c: c.method == "chat.update" and "Withdrawn by the reporter" in text_of(c.args))
    assert update.args["channel"] == "C0TRIAGE"

"""Improvement suggestions end to end through Slack's signed requests: an employee suggests, the ISMS
manager declines one in the modal (the author gets the reason in a DM) and accepts another into a
change request."""

from __future__ import annotations

import json

from tests.slack_client import SlackUser
from tests.test_audits_slack import dms, modal, press, submit, typed
from tests.world import change


def test_suggestions_declined_with_the_author_told_and_accepted_into_a_change(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = erin.command("/isms", "suggest")
    assert "Please write your suggestion after the command" in erin.reply_text(reply)
    _, reply = erin.command("/isms", "suggest Remove the VPN <!channel>")
    assert "Thank you: your suggestion IMPR-2026-0001 is recorded." in erin.reply_text(reply)
    asked = dms(slack, "U0ALICE", "Improvement IMPR-2026-0001 waits for your decision")
    assert "&lt;!channel&gt;" in asked[0] and "<!channel>" not in asked[0]

    press(bot, slack, "U0ALICE", "improvement.decline", "IMPR-2026-0001")
    form = modal(slack, "improvement.decline")
    _, body = submit(bot, "U0ALICE", form, {"reason": typed("")})
    assert json.loads(body) == {"response_action": "errors", "errors": {"reason": "Please fill in the reason."}}
    assert submit(bot, "U0ALICE", form, {"reason": typed("Remote staff need it")}) == (200, "")
    told = dms(slack, "U0ERIN", "Your suggestion IMPR-2026-0001 was declined.")
    assert "Remote staff need it" in told[0]

    erin.command("/isms", "suggest Offer a password manager")
    dms(slack, "U0ALICE", "Improvement IMPR-2026-0002 waits for your decision")
    press(bot, slack, "U0ALICE", "improvement.accept", "IMPR-2026-0002")
    assert dms(slack, "U0ERIN", "Your suggestion IMPR-2026-0002 was accepted: it is change CHG-2026-0001.")
    assert change(bot.runtime.ctx, "CHG-2026-0001").origin_ref == "IMPR-2026-0002"

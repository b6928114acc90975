"""An internal audit end to end through Slack's signed requests, with the controlled clock: the ISMS
manager plans it in the modal, the tick starts it, the auditor records a nonconformity from the audit's
button, the corrective action goes through change management on the local tracker, its verification
closes the finding, and the report is posted to the reports channel."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storage.models import Finding
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
from tests.world import berlin


def typed(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def chosen(value: str) -> dict[str, Any]:
    return {"value": {"type": "static_select", "selected_option": {"value": value}}}


def day(value: str) -> dict[str, Any]:
    return {"value": {"type": "datepicker", "selected_date": value}}


def state(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A view's state: each block holds one element whose action id is the block's name."""
    return {name: {name: element["value"]} for name, element in fields.items()}


def submit(bot, user: str, view: dict[str, Any], fields: dict[str, dict[str, Any]]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    payload = view_submission_payload(user, view["callback_id"], state(fields), view["private_metadata"])
    return post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)


def modal(slack, callback_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    def opened(call) -> bool:  # type: ignore[no-untyped-def]
        return call.method == "views.open" and _view(call)["callback_id"] == callback_id

    calls = [c for c in slack.calls if opened(c)]
    return _view(slack.wait_for(opened, count=len(calls) or 1))


def _view(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view


def press(bot, slack, user: str, action_id: str, value: str) -> str:  # type: ignore[no-untyped-def]
    response_url = slack.response_url(f"{user}-{action_id}-{value}")
    payload = block_actions_payload(user, action_id, value, response_url=response_url)
    assert SlackUser(bot.url, slack, user).interact(payload) == 200
    return response_url


def dms(slack, user: str, containing: str) -> list[str]:  # type: ignore[no-untyped-def]
    return eventually(lambda: [text_of(m) for m in slack.messages_to(user) if containing in text_of(m)])


PLAN = {
    "title": typed("ISMS operations 2026"),
    "processes": typed("INC, CHG"),
    "controls": typed(""),
    "criteria": typed("Our incident and change procedures"),
    "auditors": typed("aldo@example.org"),
    "kickoff": day("2026-12-07"),
    "evidence_due": day("2026-12-11"),
    "report_due": day("2026-12-18"),
}


def test_an_audit_with_a_nonconformity_ends_in_a_verified_change_and_a_closed_finding(bot, slack, clock):
    alice = SlackUser(bot.url, slack, "U0ALICE")
    assert alice.command("/isms", "audit new")[0] == 200
    view = modal(slack, "audit.plan")
    status, body = submit(bot, "U0ALICE", view, {**PLAN, "auditors": typed("sam@example.org")})
    assert status == 200 and json.loads(body)["errors"]["auditors"].startswith(
        "sam owns INC, which is in scope: auditors must be independent of what they audit."
    )
    assert submit(bot, "U0ALICE", view, PLAN) == (200, "")
    assert dms(slack, "U0ALDO", "You are an auditor of internal audit AUD-2026-0001")

    clock.set(berlin(2026, 12, 7, 9, 0))
    assert bot.scheduler.tick()
    assert dms(slack, "U0ALDO", "Internal audit AUD-2026-0001 starts today")
    clock.set(berlin(2026, 12, 7, 9, 1))
    assert bot.scheduler.tick()
    assert dms(slack, "U0SAM", "Evidence for internal audit AUD-2026-0001 (INC): ISMS operations 2026")

    press(bot, slack, "U0ALDO", "audit.record_finding", "AUD-2026-0001")
    finding_form = modal(slack, "audit.finding")
    nonconformity = {
        "audit": chosen("AUD-2026-0001"),
        "kind": chosen("major"),
        "clause": typed("A.8.32"),
        "text": typed("Emergency changes bypass approval <!here>"),
        "root_cause": typed(""),
        "corrective_action": typed(""),
    }
    status, body = submit(bot, "U0ALDO", finding_form, nonconformity)
    assert json.loads(body)["errors"] == {
        "root_cause": "Please fill in the root cause.",
        "corrective_action": "Please fill in the corrective action.",
    }
    nonconformity |= {
        "root_cause": typed("The procedure has no emergency approver."),
        "corrective_action": typed("Name an emergency approver."),
    }
    assert submit(bot, "U0ALDO", finding_form, nonconformity) == (200, "")
    told = dms(slack, "U0SAM", "Finding AUD-2026-0001-F1 in audit AUD-2026-0001: major nonconformity")
    assert "&lt;!here&gt;" in told[0] and "<!here>" not in told[0]

    press(bot, slack, "U0ALICE", "change.approve", "CHG-2026-0001")
    approve = modal(slack, "change.approve")
    assert submit(bot, "U0ALICE", approve, {"reason": typed("Audit finding")}) == (200, "")
    alice.command("/isms", "ticket LOCAL-1 done Emergency approver named")
    assert dms(slack, "U0ALDO", "Does it work as intended?")
    press(bot, slack, "U0ALDO", "change.verify", "CHG-2026-0001")

    assert dms(slack, "U0ALDO", "Finding AUD-2026-0001-F1 is closed: corrective action CHG-2026-0001 verified")
    with bot.runtime.ctx.read() as session:
        closed = session.scalar(select(Finding).where(Finding.ref == "AUD-2026-0001-F1"))
        assert closed is not None and (closed.state, closed.change_state) == ("closed", "verified")

    aldo = SlackUser(bot.url, slack, "U0ALDO")
    _, reply = aldo.command("/isms", "audit report AUD-2026-0001")
    assert "AUD-2026-0001 is reported" in aldo.reply_text(reply)
    posted = eventually(lambda: [text_of(m) for m in slack.messages_to("C0REPORTS") if "Audit report" in text_of(m)])
    assert "Audit report AUD-2026-0001: ISMS operations 2026" in posted[0]
    assert "AUD-2026-0001-F1" in posted[0] and "SHA-256" in posted[0]
    assert "bypass approval &lt;!here&gt;" in posted[0] and "<!here>" not in posted[0]

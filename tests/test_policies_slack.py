"""A policy version through Slack's signed requests: the modal (its author named as approver is
refused on the field), the approver's buttons, the author refused as approver, the announcement in
the reports channel and the acknowledgement DM with its button."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from storage.models import PolicyVersion, Record
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import FORM_CONTENT_TYPE, block_actions_payload, interactivity_body, post_signed
from tests.slack_client import SlackUser, text_of
from tests.support import eventually
from tests.test_awareness_slack import dms
from tests.test_changes_slack import chosen, opened_modal, submit_view, text

DOCUMENT = b"%PDF-1.7 access control 1.0"


def records(bot) -> list[tuple[str, str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.read() as session:
        rows = session.scalars(select(Record).where(Record.process == "POL").order_by(Record.seq))
        return [(r.subject_id, r.action, json.loads(r.data or "{}")) for r in rows]


def person(user: str) -> dict[str, Any]:
    return {"value": {"type": "users_select", "selected_user": user}}


def form(approver: str) -> dict[str, Any]:
    return {
        "policy": text("POL-ACCESS"),
        "title": text("Access control"),
        "version": text("1.0"),
        "link": text("https://intranet.example.org/policies/access-control-1.0.pdf"),
        "sha256": text(""),
        "files": {"files": {"type": "file_input", "files": [{"id": "F0POLICY", "name": "access.pdf", "size": 27}]}},
        "owner": {"value": {"type": "users_select", "selected_user": None}},
        "approver": person(approver),
        "next_review": {"value": {"type": "datepicker", "selected_date": "2027-06-30"}},
        "audience_kind": chosen("role"),
        "audience": text("owner"),
    }


def button_values(message: dict[str, Any]) -> dict[str, str]:
    return {
        element["action_id"]: str(element["value"])
        for block in message["blocks"]
        for element in block.get("elements", [])
        if element.get("type") == "button"
    }


def click(bot, slack, user: str, action_id: str, value: str, name: str) -> str:  # type: ignore[no-untyped-def]
    """Press a button in a DM; returns the response_url (one per press) the bot answers on."""
    response_url = slack.response_url(name)
    payload = block_actions_payload(user, action_id, value, response_url=response_url)
    status, _ = post_signed(bot.url + "/slack/events", SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)
    assert status == 200
    return response_url


def test_a_policy_version_through_slack(bot, slack):
    slack.add_file("F0POLICY", "access.pdf", DOCUMENT)
    alice = SlackUser(bot.url, slack, "U0ALICE")
    alice.command("/isms", "policy new")
    modal = opened_modal(slack, "policy.new")

    status, body = submit_view(bot, "U0ALICE", "policy.new", form("U0ALICE"), modal["private_metadata"])
    assert status == 200
    assert json.loads(body)["errors"] == {"approver": "You are writing this version, so somebody else must approve it."}

    status, body = submit_view(bot, "U0ALICE", "policy.new", form("U0MIA"), modal["private_metadata"])
    assert (status, body) == (200, "")
    ask = dms(slack, "U0MIA", "waits for your approval")[0]
    assert "Policy POL-ACCESS “Access control” version 1.0 waits for your approval" in text_of(ask)
    version = button_values(ask)["policy.approve"]

    refused = click(bot, slack, "U0ALICE", "policy.approve", version, "alice-approves")
    assert "You wrote version 1.0 of POL-ACCESS, so you cannot approve it: Mia Moreau does." in alice.reply_text(
        refused
    )
    mia = SlackUser(bot.url, slack, "U0MIA")
    approved = click(bot, slack, "U0MIA", "policy.approve", version, "mia-approves")
    assert "Approved and published: POL-ACCESS “Access control” version 1.0" in mia.reply_text(approved)
    dms(slack, "C0REPORTS", "Policy published: POL-ACCESS “Access control” version 1.0")
    # Mia's request loses its buttons: the same message now says who approved it.
    update = slack.wait_for(lambda c: c.method == "chat.update" and "Approved and published: policy" in text_of(c.args))
    posted = [c.response for c in slack.calls_to("chat.postMessage") if "waits for your approval" in text_of(c.args)]
    assert [(update.args["channel"], update.args["ts"])] == [(p["channel"], p["ts"]) for p in posted if p]
    assert "Decided by" in text_of(update.args) and button_values(update.args) == {}

    def hashed() -> str | None:  # the outbox fetches the document in the background; a tick copies its hash
        assert bot.scheduler.tick()
        with bot.runtime.ctx.read() as session:
            return session.scalar(select(PolicyVersion.sha256))

    assert eventually(hashed) == hashlib.sha256(DOCUMENT).hexdigest()
    with bot.runtime.ctx.read() as session:
        version = session.scalar(select(PolicyVersion))
    assert version is not None
    assert [data["sha256"] for _, action, data in records(bot) if action == "document-hashed"] == [version.sha256]
    ack = dms(slack, "U0ERIN", "Please read and accept the policy “Access control”, version 1.0")[0]
    assert "I have read and accept it" in text_of(ack)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    thanks = click(bot, slack, "U0ERIN", "awareness.done", button_values(ack)["awareness.done"], "erin-accepts")
    assert (
        "Thank you: recorded that you have read and accepted the policy “Access control”, version 1.0"
        in erin.reply_text(thanks)
    )

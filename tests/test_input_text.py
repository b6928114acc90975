"""Text at the edges (bot/text.py): control characters and lone surrogates never reach the database,
bidirectional overrides never reach a person's screen, and the record keeps what was written."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.console import Console
from bot.runtime import build_runtime
from bot.text import clean, clean_tree, shown, shown_on_terminal
from storage.models import Incident, Record
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import FORM_CONTENT_TYPE, interactivity_body, post_signed, view_submission_payload
from tests.slack_client import SlackUser, text_of

RLO = "\u202e"
TRIAGE = "C0TRIAGE"


def stored_incidents(sessions) -> list[Incident]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def reported_summaries(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        rows = session.scalars(select(Record).where(Record.action == "reported").order_by(Record.seq))
        return [json.loads(r.data)["summary"] for r in rows]


def triage_text(slack) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    call = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == TRIAGE and "thread_ts" not in c.args
    )
    return call.args


def test_clean_and_shown_rules():
    assert clean("a\x00b\x07c\x1b[31md\x7fe\x85f") == "abc[31mdef"
    assert clean("line\r\nnext\rlast\tcol") == "line\nnext\nlast\tcol"
    assert clean("half \ud800 pair") == "half \ufffd pair"
    assert clean("plain ascii") == "plain ascii" and clean("ünïcödé ✓ 😀") == "ünïcödé ✓ 😀"
    assert clean_tree({"k\x00": ["v\x00", {"n": 1, "x": None}]}) == {"k": ["v", {"n": 1, "x": None}]}
    for bidi in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert bidi not in shown(f"invoice{bidi}gnp.exe")
    assert shown_on_terminal("red \x1b[31m text") == "red [31m text"


def test_nul_byte_in_a_quick_report_is_stored_without_it(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, reply = erin.command("/incident", "nul\x00byte and bell\x07 here")
    assert status == 200
    answer = erin.reply_text(reply)
    assert "Your report is INC-" in answer and "went wrong" not in answer
    assert [i.summary for i in stored_incidents(bot.runtime.ctx.sessions)] == ["nulbyte and bell here"]


def test_lone_surrogate_in_a_form_field_is_replaced_and_the_report_stored_whole(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/incident")
    view = slack.wait_for("views.open").args["view"]
    state = {
        "what": {"what": {"type": "plain_text_input", "value": "Broken \ud83d text from a bad client"}},
        "affected": {"affected": {"type": "plain_text_input", "value": "laptop \udc00"}},
        "category": {"category": {"type": "static_select", "selected_option": {"value": "other"}}},
        "personal_data": {"personal_data": {"type": "static_select", "selected_option": {"value": "no"}}},
    }
    payload = view_submission_payload("U0ERIN", view["callback_id"], state, view.get("private_metadata", ""))
    body = interactivity_body(payload)
    assert "%5Cud83d" in body  # the escape as a client sends it; json.loads turns it into a lone surrogate
    status, answer = post_signed(erin.url, SIGNING_SECRET, body, FORM_CONTENT_TYPE)
    assert status == 200 and "errors" not in answer
    dm = slack.wait_for(lambda c: c.method == "chat.postMessage" and c.args.get("channel") == "U0ERIN")
    assert "Your report is INC-" in text_of(dm.args) and "ERR-" not in text_of(dm.args)
    [stored] = stored_incidents(bot.runtime.ctx.sessions)
    assert stored.summary == "Broken \ufffd text from a bad client" and stored.affected == "laptop \ufffd"


def test_bidi_override_is_neutralised_in_slack_and_kept_in_the_record(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, reply = erin.command("/incident", f"Attachment invoice{RLO}gnp.exe came by mail")
    assert status == 200
    erin.reply_text(reply)
    post = triage_text(slack)
    assert RLO not in json.dumps(post, ensure_ascii=False)
    assert "invoice\ufffdgnp.exe" in text_of(post)
    assert [s for s in reported_summaries(bot.runtime.ctx.sessions)] == [f"Attachment invoice{RLO}gnp.exe came by mail"]
    assert all(RLO not in json.dumps(r.args, ensure_ascii=False) for r in slack.responses)


def test_console_cleans_what_is_typed_and_neutralises_what_it_prints(settings):
    printed: list[str] = []
    lines = iter([f"/incident invoice{RLO}gnp.exe\x00 with \x1b[2J escape", "/quit"])
    console = Console(ask=lambda prompt: next(lines), say=printed.append)
    runtime = build_runtime(settings, console.deliver)
    try:
        console.attach(runtime, "erin@example.org")
        console.run()
        output = "\n".join(printed)
        assert "Your report is INC-" in output
        assert RLO not in output and "\x1b" not in output and "\x00" not in output
        assert reported_summaries(runtime.ctx.sessions) == [f"invoice{RLO}gnp.exe with [2J escape"]
    finally:
        runtime.engine.dispose()

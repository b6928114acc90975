"""Incidents end to end in Slack mode: signed HTTP requests into the real server, answers via the double."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from storage.models import Incident, IntakeRequest, OutboxEffect, Record
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import (
    FORM_CONTENT_TYPE,
    block_actions_payload,
    interactivity_body,
    message_shortcut_payload,
    post_signed,
    slash_command_body,
    view_submission_payload,
)
from tests.slack_client import SlackUser, text_of
from tests.support import eventually, settle
from workflows.kernel.process import run_due_work

TRIAGE = "C0TRIAGE"


# -- helpers: what a person in Slack does and sees ----------------------------------------------------


def count(bot, model) -> int:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def incident(bot, ref: str) -> Incident:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return session.scalar(select(Incident).where(Incident.ref == ref))


def records(bot, action: str) -> list[Record]:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return list(session.scalars(select(Record).where(Record.action == action).order_by(Record.seq)))


def ref_in(text: str) -> str:
    match = re.search(r"INC-\d{4}-\d{4}", text)
    assert match is not None, text
    return match.group(0)


def triage_post(slack, ref: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.args.get("channel") == TRIAGE
            and "thread_ts" not in c.args
            and (c.args.get("text") or "").startswith(ref)
        ),
        timeout=timeout,
    )


def dm_texts(slack, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [text_of(args) for args in slack.messages_to(user)]


def wait_dm(slack, user: str, fragment: str, count: int = 1, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == user and fragment in text_of(c.args),
        count=count,
        timeout=timeout,
    )


def thread_lines(slack, post) -> list[str]:  # type: ignore[no-untyped-def]
    ts = post.response["ts"]
    return [
        c.args["blocks"][0]["text"]["text"] for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts
    ]


def wait_line(slack, post, fragment: str):  # type: ignore[no-untyped-def]
    """Wait for a line in the triage post's thread (steps run after the ack, so tests wait for them)."""
    ts = post.response["ts"]
    return slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("thread_ts") == ts and fragment in text_of(c.args)
    )


def press(user: SlackUser, action_id: str, value: str) -> str:
    """Click a button; returns the response_url its ephemeral answer would go to."""
    response_url = user._response_url()
    assert (
        user.interact(
            block_actions_payload(user.user_id, action_id, value, channel_id=TRIAGE, response_url=response_url)
        )
        == 200
    )
    return response_url


def opened_view(slack, callback_id: str, count: int = 1) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    call = slack.wait_for(
        lambda c: c.method == "views.open" and c.args["view"]["callback_id"] == callback_id, count=count
    )
    return call.args["view"]


def view_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Slack's state.values for the modal, as if the person typed ``values`` and left the rest as shown."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        element, name = block["element"], block["block_id"]
        kind = element["type"]
        if kind == "plain_text_input":
            entry = {"type": kind, "value": values.get(name, element.get("initial_value"))}
        elif kind == "static_select":
            chosen = values.get(name, (element.get("initial_option") or {}).get("value"))
            entry = {
                "type": kind,
                "selected_option": {"value": chosen, "text": {"type": "plain_text", "text": chosen}}
                if chosen
                else None,
            }
        elif kind == "datetimepicker":
            entry = {"type": kind, "selected_date_time": values.get(name, element.get("initial_date_time"))}
        elif kind == "users_select":
            entry = {"type": kind, "selected_user": values.get(name)}
        else:
            entry = {"type": kind, "files": [{"id": f} for f in values.get(name, [])]}
        state[name] = {element["action_id"]: entry}
    return state


def submit(
    user: SlackUser,
    view: dict[str, Any],
    values: dict[str, Any],
    view_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> tuple[int, str]:
    payload = payload or view_submission_payload(
        user.user_id, view["callback_id"], view_state(view, values), view.get("private_metadata", ""), view_id
    )
    return post_signed(user.url, SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)


REPORT = {
    "what": "A mail asked me to confirm my password and I did.",
    "category": "phishing",
    "personal_data": "no",
    "affected": "My mailbox",
}


def report_by_form(user: SlackUser, slack, values: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    opened = len(slack.calls_to("views.open"))
    user.command("/incident")
    view = opened_view(slack, "incident.report", count=opened + 1)
    status, _ = submit(user, view, values)
    assert status == 200
    dm = wait_dm(slack, user.user_id, "Your report is INC-")
    return ref_in(text_of(dm.args))


# -- reporting ---------------------------------------------------------------------------------------


def test_quick_report_is_confirmed_posted_for_triage_and_user_text_is_escaped(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, reply = erin.command(
        "/incident", "Mail from <!channel> asking <@U0SAM> to log in at <https://evil.example|our bank>"
    )
    assert status == 200
    answer = erin.reply_text(reply)
    assert "Thank you. Your report is INC-2026-0001." in answer
    response = slack.responses[-1].args
    assert [e["action_id"] for b in response["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "incident.add_details",
        "incident.withdraw",
    ]

    post = triage_post(slack, "INC-2026-0001")
    shown = text_of(post.args)
    for raw in ("<!channel>", "<@U0SAM>", "<https://evil.example|our bank>"):
        assert raw not in shown and raw not in json.dumps(post.args["blocks"])
    assert "&lt;!channel&gt;" in post.args["text"] and "&lt;@U0SAM&gt;" in post.args["text"]
    assert "&lt;https://evil.example|our bank&gt;" in shown
    mrkdwn = [n for b in post.args["blocks"] for n in _text_objects(b) if n["type"] == "mrkdwn"]
    assert mrkdwn and all(n["verbatim"] is True for n in mrkdwn)
    assert "Reported by*\nErin Evans" in shown and "Incident" in shown and "P1 Critical" in shown
    reported = records(bot, "reported")
    assert [(r.actor, r.subject_id) for r in reported] == [("erin", "INC-2026-0001")]
    assert json.loads(reported[0].data)["summary"].startswith("Mail from <!channel>")


def _text_objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text"):
            found.append(node)
        for value in node.values():
            found.extend(_text_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_text_objects(item))
    return found


def test_report_through_the_modal(bot, slack, clock):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/incident")
    view = opened_view(slack, "incident.report")
    assert [b["block_id"] for b in view["blocks"]] == [
        "what",
        "noticed",
        "affected",
        "category",
        "personal_data",
        "links",
        "files",
    ]
    assert view["blocks"][1]["element"]["initial_date_time"] == int(clock().timestamp())
    categories = [o["value"] for o in view["blocks"][3]["element"]["options"]]
    assert categories == [
        "phishing",
        "malware",
        "lost_device",
        "unauthorised_access",
        "account_compromise",
        "data_leak",
        "physical",
        "other",
    ]
    noticed = int(clock().timestamp()) - 3600
    status, body = submit(erin, view, {**REPORT, "noticed": noticed, "links": "https://mail.example/msg/1"})
    assert status == 200 and body == ""
    dm = wait_dm(slack, "U0ERIN", "Your report is INC-2026-0001")
    assert "/incident mine" in text_of(dm.args)
    shown = text_of(triage_post(slack, "INC-2026-0001").args)
    assert "Category*\nPhishing" in shown and "Affected system or asset*\nMy mailbox" in shown
    assert "Noticed*\nMon 23 Nov 2026, 09:00 (Europe/Berlin)" in shown and "https://mail.example/msg/1" in shown
    stored = incident(bot, "INC-2026-0001")
    assert stored.reporter_id == "erin" and stored.personal_data == "no" and stored.status == "new"


def test_bad_form_input_is_shown_on_the_fields_and_nothing_is_stored(bot, slack, clock):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/incident")
    view = opened_view(slack, "incident.report")
    future = int(clock().timestamp()) + 3600
    status, body = submit(erin, view, {"what": "  ", "noticed": future, "category": "bitcoin", "personal_data": ""})
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {
        "what": "Please fill in what happened.",
        "noticed": "This is in the future. Please give the time it already happened.",
        "category": "Unknown category. Please choose one from the list.",
        "personal_data": "Please answer yes, no or not sure.",
    }
    status, body = submit(erin, view, {**REPORT, "what": "x" * 3001})
    assert json.loads(body)["errors"] == {"what": "At most 3,000 characters, please (this has 3,001)."}
    _, reply = erin.command("/incident", "y" * 3001)
    assert "Nothing was reported: At most 3,000 characters" in erin.reply_text(reply)
    assert count(bot, Incident) == 0 and count(bot, Record) == 0
    assert count(bot, IntakeRequest) == 0  # refused before the intake: nothing was stored to run later
    assert slack.messages_to(TRIAGE) == []


def test_message_shortcut_opens_the_prefilled_form_and_keeps_permalink_and_author(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    message = {
        "type": "message",
        "user": "U0OLGA",
        "ts": "1763888400.000100",
        "text": "Here is the customer list, also for externals <!here>",
    }
    erin.interact(message_shortcut_payload("U0ERIN", "report_incident", message, channel_id="C0GENERAL"))
    view = opened_view(slack, "incident.report")
    assert view["blocks"][0]["element"]["initial_value"] == message["text"]
    status, _ = submit(erin, view, {"category": "data_leak", "personal_data": "yes"})
    assert status == 200
    ref = ref_in(text_of(wait_dm(slack, "U0ERIN", "Your report is").args))
    stored = incident(bot, ref)
    assert stored.summary == message["text"]
    assert stored.source_permalink == "https://example.slack.com/archives/C0GENERAL/p1763888400000100"
    assert stored.source_author == "U0OLGA"
    shown = text_of(triage_post(slack, ref).args)
    assert "Reported message*\nhttps://example.slack.com/archives/C0GENERAL/p1763888400000100" in shown
    assert "&lt;!here&gt;" in shown and "<!here>" not in shown


def test_slack_retry_of_the_same_command_creates_one_incident(bot, slack):
    body = slash_command_body(
        "/incident",
        "USB stick found in the car park",
        "U0ERIN",
        response_url=slack.response_url("retry"),
        trigger_id="1763888400.1.abcdef",
    )
    url = bot.url + "/slack/events"
    assert post_signed(url, SIGNING_SECRET, body, FORM_CONTENT_TYPE)[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert post_signed(url, SIGNING_SECRET, body, FORM_CONTENT_TYPE, extra_headers=retry)[0] == 200
    # Both acknowledged once stored in the intake (one row); the report is written after the answer.
    answer = slack.wait_for(lambda c: c.path.endswith("/response/retry"))
    assert "Your report is INC-2026-0001" in text_of(answer.args)
    assert count(bot, IntakeRequest) == 1
    assert count(bot, Incident) == 1
    assert reply_effects(bot) == ["reply:command:1763888400.1.abcdef"]
    triage_post(slack, "INC-2026-0001")
    bot.runtime.dispatcher.drain()
    assert len(slack.responses) == 1 and len(slack.messages_to(TRIAGE)) == 1


def reply_effects(bot) -> list[str]:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return list(session.scalars(select(OutboxEffect.key).where(OutboxEffect.key.like("reply:%"))))


def test_double_submit_of_the_form_creates_one_incident(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    erin.command("/incident")
    view = opened_view(slack, "incident.report")
    payload = view_submission_payload("U0ERIN", "incident.report", view_state(view, REPORT), "", "V0DOUBLE")
    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda _: submit(erin, view, {}, payload=payload)[0], range(2)))
    assert statuses == [200, 200]
    wait_dm(slack, "U0ERIN", "Your report is INC-2026-0001")
    assert count(bot, Incident) == 1 and [k.rsplit(":", 1)[0] for k in reply_effects(bot)] == ["reply:view:V0DOUBLE"]
    triage_post(slack, "INC-2026-0001")
    bot.runtime.dispatcher.drain()
    assert len(slack.messages_to("U0ERIN")) == 1 and len(slack.messages_to(TRIAGE)) == 1


def test_failure_after_the_ack_is_told_recorded_and_leaves_nothing_half_done(bot, slack, monkeypatch):
    def broken(*_: Any) -> None:
        raise RuntimeError("triage channel unavailable")

    monkeypatch.setattr("workflows.incidents.timeline.post_triage", broken)
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = erin.command("/incident", "Strange pop-up on my screen")
    answer = erin.reply_text(reply)
    assert "Sorry, something went wrong while handling /incident" in answer
    reference = re.search(r"ERR-[0-9A-F]{6}", answer)
    assert reference is not None
    failures = records(bot, "failure")
    assert [(r.process, r.subject_id) for r in failures] == [("REC", reference.group(0))]
    assert count(bot, Incident) == 0
    monkeypatch.undo()
    _, reply = erin.command("/incident", "Strange pop-up on my screen")
    assert "Your report is INC-2026-0001" in erin.reply_text(reply)  # the failed attempt left no gap


# -- triage ------------------------------------------------------------------------------------------


def test_employee_pressing_a_triage_button_is_refused_politely_and_recorded(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    _, reply = erin.command("/incident", "Door to the server room was open")
    ref = ref_in(erin.reply_text(reply))
    triage_post(slack, ref)
    for action in ("incident.classify", "incident.close", "incident.severity.P1"):
        answer = erin.reply_text(press(erin, action, ref))
        assert "is for ISMS manager, security lead or security team only. This attempt has been recorded." in answer
    denied = records(bot, "access-denied")
    assert [(r.actor, r.subject_id, json.loads(r.data)["attempted"]) for r in denied] == [
        ("erin", ref, "classifying incidents"),
        ("erin", ref, "working on incidents"),
        ("erin", ref, "setting the severity of incidents"),
    ]
    assert incident(bot, ref).status == "new" and incident(bot, ref).severity is None
    assert slack.calls_to("chat.update") == [] and slack.calls_to("views.open") == []


def test_full_triage_path_to_closure(bot, slack):
    erin, sam, hana, dora = (SlackUser(bot.url, slack, u) for u in ("U0ERIN", "U0SAM", "U0HANA", "U0DORA"))
    _, reply = erin.command("/incident", "Lost my laptop on the train")
    ref = ref_in(erin.reply_text(reply))
    post = triage_post(slack, ref)

    press(erin, "incident.add_details", ref)
    details = opened_view(slack, "incident.report")
    assert details["blocks"][0]["element"]["initial_value"] == "Lost my laptop on the train"
    submit(erin, details, {"category": "lost_device", "personal_data": "yes", "affected": "Laptop ER-12"})
    wait_dm(slack, "U0ERIN", f"the details are added to {ref}")

    press(sam, "incident.classify", ref)
    wait_dm(slack, "U0ERIN", f"Your report {ref} is being handled as a security incident.")
    wait_dm(slack, "U0DORA", "GDPR notification to the supervisory authority clock started")
    press(sam, "incident.severity.P2", ref)
    wait_line(slack, post, "Sam Shah set severity P2 (High).")
    press(sam, "incident.assign", ref)
    assign = opened_view(slack, "incident.assign")
    assert assign["private_metadata"] == ref and assign["blocks"][0]["element"]["type"] == "users_select"
    _status, body = submit(sam, assign, {"handler": "U0ERIN"})
    assert json.loads(body)["errors"] == {
        "handler": "Erin Evans is not in the security team; please choose somebody who is."
    }
    submit(sam, assign, {"handler": "U0HANA"})
    wait_dm(slack, "U0HANA", f"You now handle {ref}")
    wait_dm(slack, "U0ERIN", f"Hana Hart is now handling your report {ref}.")

    press(hana, "incident.note", ref)
    submit(hana, opened_view(slack, "incident.note"), {"note": "Called the rail company; disk is encrypted."})
    wait_line(slack, post, "Note by Hana Hart")
    press(hana, "incident.escalate", ref)
    wait_dm(slack, "U0ALICE", f"Hana Hart escalated to you: {ref}")
    wait_dm(slack, "U0SAM", f"Hana Hart escalated to you: {ref}")

    press(dora, "incident.notified", ref)
    notified = opened_view(slack, "incident.notified")
    submit(dora, notified, {"note": "Reported online, case 4711"})
    wait_dm(slack, "U0DORA", "Recorded: GDPR notification to the supervisory authority")

    press(hana, "incident.close", ref)
    close = opened_view(slack, "incident.close")
    _status, body = submit(hana, close, {"root_cause": "Laptop left unattended", "lessons": ""})
    assert json.loads(body)["errors"] == {"lessons": "Please fill in the lessons learned."}
    submit(hana, close, {"root_cause": "Laptop left unattended", "lessons": "Lock laptops to the seat or keep them"})
    wait_dm(slack, "U0ERIN", f"Your report {ref} is closed.")

    final = slack.wait_for(lambda c: c.method == "chat.update" and "Closed:" in (c.args.get("text") or ""))
    room = slack.channels()[0]["id"]  # a P2 gets its own channel, whose pinned summary is updated too
    updates = slack.calls_to("chat.update")
    assert {(c.args["channel"], c.args["ts"]) for c in updates if c.args["channel"] != room} == {
        (TRIAGE, post.response["ts"])
    }
    closed = text_of(final.args)
    assert "Root cause*\nLaptop left unattended" in closed and "Handler*\nHana Hart" in closed
    assert "GDPR notification to the supervisory authority*\ndone" in closed
    assert [e["action_id"] for b in final.args["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "incident.note"
    ]

    expected = [
        "Sam Shah classified this as an incident.",
        "Sam Shah set severity P2 (High).",
        "Sam Shah made Hana Hart the handler.",
        "Note by Hana Hart: Called the rail company; disk is encrypted.",
        "Hana Hart escalated this to Alice Adams, Sam Shah.",
        "Hana Hart closed the incident. Root cause: Laptop left unattended",
    ]
    lines = eventually(lambda: (found := thread_lines(slack, post)) and expected[-1] in found and found)
    assert lines, "the closing line never reached the thread"
    assert lines[0] == "Erin Evans updated the report's details."
    assert [line for line in lines if line in expected] == expected
    reporter = "\n".join(dm_texts(slack, "U0ERIN"))
    assert "rail company" not in reporter and "Root cause" not in reporter and "escalated" not in reporter
    status_dms = [t.splitlines()[0] for t in dm_texts(slack, "U0ERIN") if t.startswith(("Your report", "Hana"))]
    assert status_dms == [
        f"Your report {ref} is being handled as a security incident.",
        f"Hana Hart is now handling your report {ref}.",
        f"Your report {ref} is closed.",
    ]
    assert [json.loads(r.data)["lessons"] for r in records(bot, "lesson")] == ["Lock laptops to the seat or keep them"]
    actions = [r.action for r in records_of(bot, ref)]
    assert actions[:2] == ["reported", "details-added"]
    for action in ("classified", "severity-set", "handler-assigned", "note-added", "escalated", "notified", "closed"):
        assert action in actions


def records_of(bot, ref: str) -> list[Record]:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return list(
            session.scalars(
                select(Record).where(Record.process == "INC", Record.subject_id == ref).order_by(Record.seq)
            )
        )


def test_regulatory_reminder_reaches_the_dpo_in_slack(bot, slack, clock):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    ref = report_by_form(erin, slack, {**REPORT, "personal_data": "yes"})
    press(sam, "incident.classify", ref)
    wait_dm(slack, "U0DORA", "clock started")
    clock.advance(hours=48, minutes=1)
    run_due_work(bot.runtime.ctx)
    bot.runtime.dispatcher.wake()
    reminder = wait_dm(slack, "U0DORA", f"Reminder: GDPR notification to the supervisory authority for {ref}")
    assert "Thu 26 Nov 2026, 10:00 (Europe/Berlin) (in 23 h)" in text_of(reminder.args)
    assert [e["action_id"] for b in reminder.args["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "incident.notified"
    ]
    run_due_work(bot.runtime.ctx)
    settle(bot)  # a second reminder, had one been queued, would have gone out by now
    assert sum("Reminder: GDPR" in t for t in dm_texts(slack, "U0DORA")) == 1


def test_incident_lists_in_slack(bot, slack):
    erin, aldo, olga = (SlackUser(bot.url, slack, u) for u in ("U0ERIN", "U0ALDO", "U0OLGA"))
    erin.command("/incident", "Phone stolen at the airport")
    wait_dm_or_response = slack.wait_for(lambda c: c.path.startswith("/response/"))
    ref = ref_in(text_of(wait_dm_or_response.args))
    _, mine = erin.command("/incident", "mine")
    assert f"{ref} · Reported, waiting for triage" in erin.reply_text(mine)
    _, theirs = olga.command("/incident", "mine")
    assert "You have not reported any incidents." in olga.reply_text(theirs)
    _, team = aldo.command("/isms", "incidents")
    assert f"• {ref} [no severity] Reported, waiting for triage" in aldo.reply_text(team)
    _, refused = erin.command("/isms", "incidents")
    assert "the list of incidents is for" in erin.reply_text(refused)


def test_request_change_from_the_triage_post(bot, slack):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    _, reply = erin.command("/incident", "Ransomware note on the file server")
    ref = ref_in(erin.reply_text(reply))
    post = triage_post(slack, ref)
    press(sam, "incident.classify", ref)
    wait_line(slack, post, "classified this as an incident")
    press(sam, "incident.change", ref)
    view = opened_view(slack, "incident.change")
    assert [b["block_id"] for b in view["blocks"]] == ["title", "description", "reason"]
    _status, body = submit(sam, view, {"title": "Block\nmacros", "description": "GPO", "reason": "Entry point"})
    assert json.loads(body)["errors"] == {"title": "Please keep this to one line."}
    submit(
        sam,
        view,
        {
            "title": "Block macros from the internet",
            "description": "GPO for Office",
            "reason": "The ransomware came in through a macro",
        },
    )
    line = wait_line(slack, post, "requested change CHG-")
    assert re.search(r"Sam Shah requested change CHG-2026-\d{4}: Block macros from the internet", text_of(line.args))


def test_help_lists_the_incident_commands_by_role(bot, slack):
    erin, sam = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0SAM")
    _, employee = erin.command("/isms", "help")
    _, team = sam.command("/isms", "help")
    employee_help, team_help = erin.reply_text(employee), sam.reply_text(team)
    assert "/incident mine: Your incident reports and their status" in employee_help
    assert "/isms incidents" not in employee_help
    assert "/isms incidents: Open incidents, running regulatory clocks first" in team_help


def test_an_unlisted_member_can_report_and_hears_about_the_status(bot, slack):
    slack.add_user("U0NEW", "newcomer@example.org")
    newcomer, sam = SlackUser(bot.url, slack, "U0NEW"), SlackUser(bot.url, slack, "U0SAM")
    _, reply = newcomer.command("/incident", "My account shows logins from another country")
    ref = ref_in(newcomer.reply_text(reply))
    post = triage_post(slack, ref)
    assert "Reported by*\nu0new" in text_of(post.args)
    press(sam, "incident.classify", ref)
    wait_dm(slack, "U0NEW", f"Your report {ref} is being handled as a security incident.")
    _, mine = newcomer.command("/incident", "mine")
    assert f"{ref} · Incident, being handled" in newcomer.reply_text(mine)

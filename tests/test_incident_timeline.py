"""The incident timeline (issue 13): the "Add to incident timeline" message shortcut and
``/incident timeline INC-…``, through signed Slack requests and the Slack double, and the paged list
through the router with the one test world."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from storage.models import Incident, Record
from tests.doubles.signing import message_shortcut_payload
from tests.slack_client import SlackUser, text_of
from tests.support import settle
from tests.test_incident_report import REPORTS
from tests.test_incident_room import report
from tests.test_incidents_slack import TRIAGE, opened_view, press, submit, triage_post, wait_line
from tests.world import make_world
from workflows.kernel.process import run_due_work

WRITTEN = datetime(2026, 11, 23, 8, 55, tzinfo=UTC)  # 09:55 in Berlin, before the test clock's 10:00


def shortcut(user: SlackUser, channel: str, author: str, text: str, ts: str, thread_ts: str | None = None) -> str:
    """Use "Add to incident timeline" on a message (a reply in the thread ``thread_ts``, if given);
    returns the response_url its answer goes to."""
    response_url = user._response_url()
    message = {"type": "message", "user": author, "text": text, "ts": ts}
    if thread_ts:
        message.update(thread_ts=thread_ts, parent_user_id="UBOT")
    payload = message_shortcut_payload(
        user.user_id, "incident.add_to_timeline", message, channel_id=channel, response_url=response_url
    )
    assert user.interact(payload) == 200
    return response_url


def incident_count(bot) -> int:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return len(session.scalars(select(Incident.id)).all())


def timeline_records(bot) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    with bot.runtime.ctx.sessions() as session:
        rows = session.scalars(select(Record).where(Record.action == "timeline-added").order_by(Record.seq))
        return [{"actor": r.actor, "subject": r.subject_id, **json.loads(r.data)} for r in rows]


def test_a_message_in_the_incident_channel_becomes_a_timeline_entry_with_its_author_and_time(bot, slack):
    erin, sam, hana = (SlackUser(bot.url, slack, u) for u in ("U0ERIN", "U0SAM", "U0HANA"))
    ref = report(erin, "Webshop defaced")
    post = triage_post(slack, ref)
    press(sam, "incident.severity.P1", ref)
    slack.wait_for(lambda c: c.method == "pins.add")
    settle(bot)
    run_due_work(bot.runtime.ctx)  # the channel's id is known from here on
    [channel] = slack.channels()

    ts = f"{WRITTEN.timestamp():.6f}"
    answer = shortcut(hana, channel["id"], "U0SAM", "Blocked <203.0.113.7> at the firewall & rotated keys", ts)
    assert hana.reply_text(answer).startswith(
        f"Added to the timeline of {ref}: Sam Shah, Mon 23 Nov 2026, 09:55 (Europe/Berlin)."
    )
    line = wait_line(slack, post, "Hana Hart added to the timeline: Sam Shah, Mon 23 Nov 2026, 09:55")
    assert "&lt;203.0.113.7&gt; at the firewall &amp; rotated keys" in line.args["text"]  # user text escaped
    assert timeline_records(bot) == [
        {
            "actor": "hana",
            "subject": ref,
            "author": "sam",
            "at": "2026-11-23T08:55:00+00:00",
            "text": "Blocked <203.0.113.7> at the firewall & rotated keys",
            "permalink": f"https://example.slack.com/archives/{channel['id']}/p{ts.replace('.', '')}",
        }
    ]

    # The same message a second time (another person, a second click) is not added twice.
    again = shortcut(sam, channel["id"], "U0SAM", "Blocked <203.0.113.7> at the firewall & rotated keys", ts)
    assert f"That message is already in the timeline of {ref}." in sam.reply_text(again)
    assert len(timeline_records(bot)) == 1

    # The timeline lists the steps and the message, in time order (the message was written before
    # the report's triage, so it comes first among the steps after the report).
    _, reply = hana.command("/incident", f"timeline {ref}")
    shown = hana.reply_text(reply)
    assert f"Timeline of {ref} (" in shown
    assert "Mon 23 Nov 2026, 09:55 (Europe/Berlin) · Sam Shah: Blocked &lt;203.0.113.7&gt;" in shown
    assert shown.index("Sam Shah: Blocked") < shown.index("Sam Shah set severity P1 (Critical).")
    assert f"Incident channel #{channel['name']} opened (severity P1)" in shown

    # The post-incident report names each person once per line: a step's "What" drops the name the
    # "Who" column shows; the message added from chat keeps its author's words as written.
    _, reply = hana.command("/incident", f"report {ref}")
    assert f"Post-incident report {ref}, stored as a record" in hana.reply_text(reply)
    posted = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args["channel"] == REPORTS and "Post-incident" in c.args["text"]
    )
    timeline = text_of(posted.args).split("## Timeline")[1].split("##")[0]
    assert "| Mon 23 Nov 2026, 09:55 (Europe/Berlin) | Sam Shah | Blocked &lt;203.0.113.7&gt; at the" in timeline
    assert "| Sam Shah | Set severity P1 (Critical). |" in timeline and "Sam Shah set severity" not in timeline


def test_a_reply_in_the_incident_triage_thread_is_added_at_once(bot, slack):
    erin, hana = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0HANA")
    ref = report(erin, "Shared drive opened to everyone")
    post = triage_post(slack, ref)
    root = post.response["ts"]
    ts = f"{WRITTEN.timestamp():.6f}"
    answer = shortcut(hana, TRIAGE, "U0HANA", "Permissions reverted on the share", ts, thread_ts=root)
    assert hana.reply_text(answer).startswith(f"Added to the timeline of {ref}: Hana Hart, Mon 23 Nov 2026, 09:55")
    assert not slack.calls_to("views.open")
    [added] = timeline_records(bot)
    assert added["author"] == "hana" and added["text"] == "Permissions reverted on the share"

    # A reply in a thread that is not an incident's (here: under somebody's own message) asks which one.
    shortcut(hana, TRIAGE, "U0ERIN", "Any news?", f"{WRITTEN.timestamp() + 60:.6f}", thread_ts="1600000000.000100")
    assert opened_view(slack, "incident.add_to_timeline")["callback_id"] == "incident.add_to_timeline"


def test_a_message_elsewhere_asks_which_incident(bot, slack):
    erin, hana = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0HANA")
    ref = report(erin, "Strange login prompts")
    post = triage_post(slack, ref)
    ts = f"{WRITTEN.timestamp():.6f}"
    shortcut(hana, "C0GENERAL", "U0ERIN", "I got three MFA prompts I did not ask for", ts)
    view = opened_view(slack, "incident.add_to_timeline")
    assert view["title"]["text"] == "Add to incident timeline"
    assert [b["block_id"] for b in view["blocks"]] == ["ref"]

    status, body = submit(hana, view, {"ref": "the phishing one"})
    assert json.loads(body)["errors"] == {"ref": "Please give the incident's reference, such as INC-2026-0042."}
    status, body = submit(hana, view, {"ref": "inc-2026-0999"})
    assert status == 200
    slack.wait_for(lambda c: "There is no incident INC-2026-0999." in (c.args.get("text") or ""))
    assert timeline_records(bot) == []

    submit(hana, view, {"ref": ref.lower()})
    wait_line(slack, post, "Hana Hart added to the timeline: Erin Evans, Mon 23 Nov 2026, 09:55")
    [added] = timeline_records(bot)
    assert added["author"] == "erin" and added["text"] == "I got three MFA prompts I did not ask for"

    # A long message with quotes and line breaks still fits the form's metadata (shortened).
    long = 'He said "stop" \\ and left.\n' * 150
    shortcut(hana, "C0GENERAL", "U0ERIN", long, f"{WRITTEN.timestamp() + 1:.6f}")
    view = opened_view(slack, "incident.add_to_timeline", count=2)
    assert len(view["private_metadata"]) <= 3000 and json.loads(view["private_metadata"])["text"] == long[:1400]
    submit(hana, view, {"ref": ref})
    wait_line(
        slack,
        post,
        'Hana Hart added to the timeline: Erin Evans, Mon 23 Nov 2026, 09:55 (Europe/Berlin): He said "stop"',
    )
    assert timeline_records(bot)[-1]["text"] == long[:1400].strip()


def test_only_the_team_adds_to_timelines_and_reads_them(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    ref = report(erin, "USB stick found in the car park")
    answer = shortcut(erin, "C0GENERAL", "U0ERIN", "It says 'salaries'", f"{WRITTEN.timestamp():.6f}")
    refused = erin.reply_text(answer)
    assert "Sorry, adding to incident timelines is for" in refused and "This attempt has been recorded" in refused
    assert not slack.calls_to("views.open")

    _, reply = erin.command("/incident", f"timeline {ref}")
    refused = erin.reply_text(reply)
    assert "Sorry, reading incident timelines is for" in refused and "recorded" not in refused

    aldo = SlackUser(bot.url, slack, "U0ALDO")  # the auditor reads it
    _, reply = aldo.command("/incident", f"timeline {ref}")
    assert f"Timeline of {ref} (" in aldo.reply_text(reply)
    _, reply = aldo.command("/incident", "timeline INC-2026-0999")
    assert "There is no incident INC-2026-0999." in aldo.reply_text(reply)
    for words in ("timeline", "timeline the phishing one"):  # asked, never filed as a report
        _, reply = aldo.command("/incident", words)
        assert "Which incident? For example: /incident timeline INC-2026-0042" in aldo.reply_text(reply)
    assert incident_count(bot) == 1


def test_the_timeline_is_paged_with_a_more_button(settings, clock):
    world = make_world(settings, clock)
    try:
        outcome = world.command("erin", "Printer sends documents to a wrong address", name="/incident")
        ref = outcome.reply.text.split("report is ")[1].split(".")[0] if outcome.reply else ""
        world.deliver()
        for n in range(25):  # a report is a record, not a timeline entry: 25 notes, 25 entries
            world.fill("hana", "incident.note", {"note": f"Check {n + 1}"}, ref)
        first = world.command("hana", f"timeline {ref}", name="/incident").reply
        assert first is not None
        assert first.text == f"Timeline of {ref} (25 entries)"
        assert first.body.count("\n") == 19 and "Note by Hana Hart: Check 20" in first.body
        assert first.footer == "Showing 1–20 of 25."
        [more] = first.buttons
        assert more.label == "More (5 left)"
        second = world.press("hana", more.action_id, more.value).reply
        assert second is not None and second.footer == "Showing 21–25 of 25."
        assert "Note by Hana Hart: Check 25" in second.body and "Check 20\n" not in second.body
    finally:
        world.close()

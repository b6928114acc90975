"""The post-incident report (issue 13): written on closure and on demand from the incident's rows and
records, stored as a record with the SHA-256 of both renderings, posted to the incident's channel and
the reports channel; the HTML opened in headless Chromium."""

from __future__ import annotations

import hashlib
import json
import re

from sqlalchemy import select

from storage.models import Incident, Record
from tests.browser import dom_of
from tests.slack_client import SlackUser, text_of
from tests.support import settle
from tests.test_incident_room import report
from tests.test_incidents_slack import opened_view, press, submit, triage_post, wait_line
from tests.test_reports import chromium
from tests.world import make_world
from workflows.communication.reports import render
from workflows.incidents import postmortem
from workflows.kernel.process import run_due_work

REPORTS = "C0REPORTS"


def report_records(bot) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def,type-arg]
    with bot.runtime.ctx.sessions() as session:
        rows = session.scalars(select(Record).where(Record.action == "post-incident-report").order_by(Record.seq))
        return [(r.actor, json.loads(r.data)) for r in rows]


def test_closing_writes_stores_and_posts_the_report(bot, slack, clock):
    erin, sam, hana = (SlackUser(bot.url, slack, u) for u in ("U0ERIN", "U0SAM", "U0HANA"))
    ref = report(erin, "Laptop with customer files stolen from a car")
    post = triage_post(slack, ref)
    press(sam, "incident.severity.P1", ref)
    press(sam, "incident.assign", ref)
    submit(sam, opened_view(slack, "incident.assign"), {"handler": "U0HANA"})
    wait_line(slack, post, "Sam Shah made Hana Hart the handler.")
    press(sam, "incident.severity.P2", ref)
    wait_line(slack, post, "Sam Shah set severity P2 (High).")
    press(hana, "incident.change", ref)
    change = {"title": "Encrypt every laptop", "description": "BitLocker on all", "reason": "theft"}
    submit(hana, opened_view(slack, "incident.change"), change)
    wait_line(slack, post, "Hana Hart requested change CHG-2026-0001: Encrypt every laptop")
    settle(bot)
    run_due_work(bot.runtime.ctx)
    [channel] = slack.channels()

    clock.advance(hours=5)
    press(hana, "incident.close", ref)
    close = {"root_cause": "Laptop left visible in a parked car", "lessons": "Never leave laptops in cars"}
    submit(hana, opened_view(slack, "incident.close"), close)
    posted = slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args["channel"] == REPORTS and "Post-incident" in c.args["text"]
    )
    in_room = slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.args["channel"] == channel["id"]
            and c.args["text"].startswith("Post-incident report")
        )
    )
    assert text_of(in_room.args) == text_of(posted.args)
    shown = text_of(posted.args)
    assert posted.args["text"] == f"Post-incident report {ref}: Laptop with customer files stolen from a car"
    for expected in (
        f"# Post-incident report {ref}",
        "- Status: Closed; severity P2 High",
        "- Handler: Hana Hart",
        "- Classified Mon 23 Nov 2026, 10:00 (Europe/Berlin), within a minute of the report",
        "- Closed Mon 23 Nov 2026, 15:00 (Europe/Berlin), 5 h after the report",
        f"- Incident channel: #{channel['name']}",
        "## Root cause\n\n- Laptop left visible in a parked car",
        "## Lessons learned\n\n- Never leave laptops in cars",
        "## Timeline",
        "| When | Who | What |",
        "| Mon 23 Nov 2026, 10:00 (Europe/Berlin) | Sam Shah | Set severity P1 (Critical). |",
        "| Mon 23 Nov 2026, 15:00 (Europe/Berlin) | Hana Hart | Closed the incident.",
        "## Severity history",
        "| Sam Shah | not set | P1 |",
        "| Sam Shah | P1 | P2 |",
        "## People told",
        "Emergency communication plan: told Alice Adams, Sam Shah, Mia Moreau",
        "## Changes and their results",
        "| CHG-2026-0001 | Encrypt every laptop | Requested |",
        "Regulatory clocks and notifications: none",
    ):
        assert expected in shown, expected

    [(actor, stored)] = report_records(bot)
    assert actor == "hana" and stored["why"] == "closed"
    assert stored["markdown_sha256"] == hashlib.sha256(stored["markdown"].encode()).hexdigest()
    assert len(stored["html_sha256"]) == 64
    assert "## Timeline" in stored["markdown"] and "SHA-256 (Markdown) " + stored["markdown_sha256"] in shown
    assert "| Sam Shah | Sam Shah" not in shown and "| Hana Hart | Hana Hart" not in shown  # each name once a line


def test_on_demand_for_viewers_only_and_unknown_incidents_are_named(bot, slack):
    erin, aldo = SlackUser(bot.url, slack, "U0ERIN"), SlackUser(bot.url, slack, "U0ALDO")
    ref = report(erin, "Visitor badge not returned")

    _, reply = erin.command("/incident", f"report {ref}")
    refused = erin.reply_text(reply)
    assert "Sorry, post-incident reports is for" not in refused  # a sentence people read
    assert "Sorry, writing post-incident reports is for" in refused
    assert report_records(bot) == []

    _, reply = aldo.command("/incident", f"report {ref}")
    answer = aldo.reply_text(reply)
    assert f"Post-incident report {ref}, stored as a record and posted to the reports channel." in answer
    assert "Not recorded yet: the incident is not closed." in answer and "SHA-256: Markdown " in answer
    [(actor, stored)] = report_records(bot)
    assert actor == "aldo" and stored["why"] == "asked by Aldo Auer"
    slack.wait_for(lambda c: c.method == "chat.postMessage" and c.args["channel"] == REPORTS)
    settle(bot)
    assert slack.channels() == []  # a report without a channel goes to the reports channel only

    _, reply = aldo.command("/incident", "report INC-2026-0999")
    assert "There is no incident INC-2026-0999." in aldo.reply_text(reply)
    _, reply = erin.command("/incident", "report")  # one word: still the report form, as before
    assert slack.wait_for(lambda c: c.method == "views.open").args["view"]["callback_id"] == "incident.report"


def test_the_html_report_is_escaped_reproducible_and_opens_in_headless_chromium(settings, clock, tmp_path):
    binary = chromium()
    world = make_world(settings, clock)
    try:
        world.command("erin", "Mail with <script>alert(1)</script> & a fake invoice", name="/incident")
        ref = "INC-2026-0001"
        world.deliver()
        world.press("sam", "incident.severity.P3", ref)
        world.fill("sam", "incident.assign", {"handler": "hana"}, ref)
        clock.advance(hours=2)
        world.fill("hana", "incident.close", {"root_cause": "Spoofed <sender>", "lessons": "Check senders"}, ref)
        [stored] = [data for _, action, _, data in world.records("post-incident-report")]
        with world.ctx.work(world.actor("hana")) as work:
            incident = work.session.scalar(select(Incident).where(Incident.ref == ref))
            assert incident is not None
            html = render(world.ctx, postmortem.build(work, incident), "html")
        assert hashlib.sha256(html.encode()).hexdigest() == stored["html_sha256"]  # the same input, the same file
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a fake" in html
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)

        page = tmp_path / "post-incident.html"
        page.write_text(html, encoding="utf-8")
        dom = dom_of(binary, page)
        assert f"<h1>Post-incident report {ref}</h1>" in dom
        assert dom.count("<tr>") >= 4 and "<td>Hana Hart</td><td>Closed the incident." in dom
        assert "Spoofed &lt;sender&gt;" in dom
    finally:
        world.close()

"""The incident channel, timeline and post-incident report seen from the console chat, which has no
Slack channels: the channel's posts are shown as addressed to it, its Slack effects wait; the report's
file is saved and its place printed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.models import OutboxEffect
from tests.test_incidents_console import Terminal, terminal  # noqa: F401 (the fixture)


def test_a_p1_in_the_console_shows_the_channel_summary_timeline_and_report(terminal):  # noqa: F811
    terminal.type("/incident Badge reader at the back door accepts any card")
    terminal.type("/as sam@example.org")
    shown = terminal.press("P1 Critical")
    assert "[to #inc-2026-0001-badge-reader-at-the-back-door-accepts-any-card] Summary: INC-2026-0001 [P1" in shown
    assert "Incident channel: #inc-2026-0001-badge-reader-at-the-back-door-accepts-any-card (being opened)" in shown

    timeline = terminal.type("/incident timeline INC-2026-0001")
    assert "Timeline of INC-2026-0001 (" in timeline and "Sam Shah set severity P1 (Critical)." in timeline
    # the console has no channels: the one asked for is being opened, not counted as opened
    assert "Incident channels: 0 open, 0 channels opened in all, 1 being opened" in terminal.type("/isms status")

    report = terminal.type("/incident report INC-2026-0001")
    assert "Post-incident report INC-2026-0001, stored as a record and posted to the reports channel." in report
    assert "# Post-incident report INC-2026-0001" in report and "## Timeline" in report
    assert "[to #isms_reports] Post-incident report INC-2026-0001: Badge reader" in report
    saved = "post-incident-report-INC-2026-0001-2026-11-23.html"
    assert "[file to #isms_reports] Post-incident report INC-2026-0001: " in report and saved in report
    [path] = [line.rsplit(": ", 1)[1] for line in report.splitlines() if line.startswith("[file to #isms_reports]")]
    assert Path(path).name.endswith(saved) and Path(path).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    runtime = terminal.console._runtime
    assert runtime is not None
    with runtime.ctx.read() as session:
        waiting = set(session.scalars(select(OutboxEffect.kind).where(OutboxEffect.status == "pending")))
    assert waiting == {"slack.channel", "slack.invite", "slack.pin"}  # for Slack; the console has none


def test_an_empty_timeline_says_how_it_fills_up(terminal):  # noqa: F811
    terminal.type("/incident Phishing mail with a fake invoice link")
    terminal.type("/as sam@example.org")
    timeline = terminal.type("/incident timeline INC-2026-0001")
    assert "Timeline of INC-2026-0001 (0 entries)" in timeline
    assert "Nothing on it yet. Each triage step (severity, handler, state) adds an entry" in timeline
    assert "\u201cAdd to incident timeline\u201d adds any message from Slack." in timeline
    assert "Showing" not in timeline  # no page position for an empty list

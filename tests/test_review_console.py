"""Management reviews in the console chat: the same router and workflows as Slack, with no Slack."""

from __future__ import annotations

from bot.runtime import build_runtime
from tests.test_console import scripted


def test_a_review_called_listed_and_refused_early_in_the_console(settings, clock):
    console, output = scripted(
        [
            "/isms review new",
            "Quarterly review",
            "2026-11-01 10:00",  # in the past: only this field is asked again
            "90",
            "mia@example.org",
            "",  # the attendees of the organisation file
            "Room 4",
            "2026-12-10 14:00",
            "/isms reviews",
            "/isms review decide REV-2026-01",
            "/as erin@example.org",
            "/isms reviews",
            "/quit",
        ]
    )
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")

    console.run()

    text = "\n".join(output)
    assert "That time has passed: pick a time in the future." in text
    assert "REV-2026-01 is scheduled for Thu 10 Dec 2026, 14:00 (Europe/Berlin); the attendees are invited." in text
    assert (
        "[to Mia Moreau] You are invited: Quarterly review REV-2026-01, Thu 10 Dec 2026, 14:00 (Europe/Berlin)" in text
    )
    assert "1 management review" in text
    assert "REV-2026-01 Thu 10 Dec 2026, 14:00 (Europe/Berlin): Quarterly review, scheduled" in text
    assert "its decisions can be recorded once it has started" in text
    assert "the list of management reviews is for" in text

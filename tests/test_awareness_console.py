"""A campaign in the console chat: the form (a past due date asked again), the DMs with their
buttons, a person confirming twice, and the ISMS manager's progress list."""

from __future__ import annotations

from pathlib import Path

from bot.runtime import build_runtime
from tests.awareness_support import awareness_org
from tests.test_console import scripted
from tests.world import with_org


def test_a_department_campaign_in_the_console(settings, clock, tmp_path: Path):
    console, output = scripted(
        [
            "/isms campaign new",
            "1",  # training
            "Secure coding refresher",
            "https://learn.example.org/secure-coding",
            "",  # no text
            "",  # no version
            "3",  # a department
            "Security",
            "2026-11-01",  # in the past: asked again after the last field
            "",  # keep the reminder plan
            "2026-12-04",
            "/as sam@example.org",
            "1",  # Sam's button
            "1",  # again
            "/as alice@example.org",
            "/isms campaigns AWR-0001",
            "/quit",
        ]
    )
    runtime = build_runtime(with_org(settings, awareness_org(tmp_path)), console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")

    console.run()

    text = "\n".join(output)
    assert "! Due date: The due date has passed; pick a later one." in text
    assert "Campaign AWR-0001 started: the training “Secure coding refresher”" in text
    assert "[to Sam Shah] Please complete the training “Secure coding refresher”" in text
    assert "[to Hana Hart] Please complete the training “Secure coding refresher”" in text
    assert "[to Erin Evans]" not in text
    assert "Thank you: recorded that you have done the training “Secure coding refresher”" in text
    assert "You already confirmed “Secure coding refresher”" in text
    assert "By department: Security: 1 of 2 (50%)." in text
    assert "Still missing (1):\nHana Hart (Security)" in text

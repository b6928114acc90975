"""The internal audit in the console chat: the ISMS manager plans an audit through the form's prompts
(a past kick-off is refused and asked again, nothing stored before), and the programme lists it."""

from __future__ import annotations

from bot.runtime import build_runtime
from tests.test_console import scripted


def test_planning_an_audit_and_listing_the_programme_in_the_console(settings, clock):
    console, output = scripted(
        [
            "/isms audit new",
            "ISMS operations 2026",
            "INC, CHG",
            "",
            "Our incident and change procedures",
            "Aldo Auer",
            "2026-11-01",
            "2026-12-11",
            "2026-12-18",
            "2026-12-07",
            "/isms audits",
            "/quit",
        ]
    )
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")

    console.run()

    text = "\n".join(output)
    assert "! Kick-off: 2026-11-01 is in the past; give today or a later date." in text
    assert text.count("Planned internal audit AUD-2026-0001: ISMS operations 2026") == 1
    assert "[to Aldo Auer] You are an auditor of internal audit AUD-2026-0001: ISMS operations 2026" in text
    assert "[to Sam Shah] Your process is in scope of internal audit AUD-2026-0001" in text
    assert "Audit programme: 1 audit" in text
    assert "AUD-2026-0001 Planned · ISMS operations 2026 · scope INC, CHG · auditors Aldo Auer" in text
    assert "kick-off 2026-12-07, evidence 2026-12-11, report 2026-12-18 · findings 0 open of 0" in text

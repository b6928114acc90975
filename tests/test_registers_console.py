"""The registers in the console chat on the embedded default: a list, one risk with its buttons, and
re-rating through the form's prompts, each changed value recorded with the old one."""

from __future__ import annotations

from pathlib import Path

from bot.runtime import build_runtime
from tests.test_console import scripted
from tests.world import records_about
from workflows.registers.flows import import_file
from workflows.registers.kinds import KINDS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"


def test_an_owner_lists_opens_and_re_rates_a_risk_in_the_console(settings, clock):
    console, output = scripted(
        [
            "/isms risks",
            "/isms risk R-002",
            "1",  # [1] Re-rate
            "4",
            "4",
            "2",
            "3",
            "MFA is enforced now",
            "/isms risk R-001",
            "/quit",
        ]
    )
    runtime = build_runtime(settings, console.deliver, clock=clock)
    import_file(runtime.ctx, KINDS["risk"], EXAMPLES / "risks.csv")
    console.attach(runtime, "erin@example.org")

    console.run()

    text = "\n".join(output)
    assert "Your risks: 1 risk" in text
    assert "R-002 · Phishing leads to account takeover · level 12 (above appetite) · open · Erin Evans" in text
    assert "Risk R-002 re-rated: residual level 6 (appetite 8)." in text
    assert "Sorry, risk R-001 is for Olga Ortiz (the owner)" in text
    changed = [
        (data["field"], data["old"], data["new"])
        for _, _, action, data in records_about(runtime.ctx, "R-002")
        if action == "item-changed"
    ]
    assert changed == [("residual_likelihood", 3, 2), ("residual_impact", 4, 3)]
    runtime.engine.dispose()

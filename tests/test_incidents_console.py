"""The same report and triage in the console chat: buttons are numbers, forms are prompts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.console import Console
from bot.runtime import build_runtime
from workflows.outreach.files import UPLOAD_KIND


class Terminal:
    """A console session typed into line by line; form prompts are answered from ``answers``."""

    def __init__(self) -> None:
        self.output: list[str] = []
        self.prompts: list[str] = []
        self.answers: list[str] = []
        self.console = Console(ask=self._ask, say=self.output.append)

    def _ask(self, prompt: str) -> str:
        self.prompts.append(prompt)
        assert self.answers, f"unexpected prompt {prompt!r}"
        return self.answers.pop(0)

    def type(self, line: str, *answers: str) -> str:
        """Enter ``line``; returns everything printed in response."""
        self.answers = list(answers)
        mark = len(self.output)
        self.console.handle(line)
        assert self.answers == [], f"unused answers {self.answers}"
        return "\n".join(self.output[mark:])

    def press(self, label: str, *answers: str) -> str:
        """Press the most recently shown button with this label."""
        for chunk in reversed(self.output):
            found = re.findall(rf"^\s+\[(\d+)\] {re.escape(label)}$", chunk, re.MULTILINE)
            if found:
                return self.type(found[-1], *answers)
        raise AssertionError(f"no button {label!r} shown")


@pytest.fixture
def terminal(settings, clock, tmp_path) -> Iterator[Terminal]:
    """A console as ``isms-bot chat`` builds it: files shared in chat are saved under ``tmp_path``."""
    session = Terminal()
    files = {UPLOAD_KIND: session.console.files(tmp_path / "isms-bot-files")}
    runtime = build_runtime(settings, session.console.deliver, clock=clock, extra_senders=files)
    session.console.attach(runtime, "erin@example.org")
    yield session
    runtime.engine.dispose()


def test_report_and_triage_in_the_console(terminal):
    shown = terminal.type(
        "/incident", "Someone phoned as IT and asked for my MFA code <@U0SAM>", "", "", "5", "3", "", ""
    )
    assert "Thank you. Your report is INC-2026-0001." in shown
    assert "[to #security_triage] INC-2026-0001 [not set] Reported, waiting for triage: Someone phoned" in shown
    assert "Category: Account compromise" in shown and "Personal data affected: Not sure" in shown

    terminal.type("/as sam@example.org")
    shown = terminal.press("Incident")
    assert "[to #security_triage (updated)] INC-2026-0001 [not set] Incident, being handled" in shown
    assert "[to #security_triage (in thread)] Sam Shah classified this as an incident." in shown
    assert "[to Erin Evans] Your report INC-2026-0001 is being handled as a security incident." in shown
    assert "[to Dora Diaz] GDPR notification to the supervisory authority clock started for INC-2026-0001" in shown

    terminal.press("P3 Medium")
    shown = terminal.press("Assign handler", "erin@example.org", "hana@example.org")
    assert "! Handler: Erin Evans is not in the security team; please choose somebody who is." in shown
    assert "[to Hana Hart] You now handle INC-2026-0001 [P3 Medium]" in shown
    assert "[to Erin Evans] Hana Hart is now handling your report INC-2026-0001." in shown
    shown = terminal.press("Add note", "Reset her MFA and checked the sign-in log")
    assert "[to #security_triage (in thread)] Note by Sam Shah: Reset her MFA and checked the sign-in log" in shown
    assert "[to Erin Evans]" not in shown

    terminal.type("/as dora@example.org")
    shown = terminal.press("Record notification", "1", "", "", "Phoned the authority, case 12")
    assert "Recorded: GDPR notification to the supervisory authority for INC-2026-0001" in shown

    terminal.type("/as hana@example.org")
    shown = terminal.press("Close", "", "Never share MFA codes, not even with IT", "Social engineering by phone")
    assert "! Root cause: Please fill in the root cause." in shown
    assert "[to Erin Evans] Your report INC-2026-0001 is closed." in shown
    assert "[to #security_triage (in thread)] Hana Hart closed the incident. Root cause: Social engineering" in shown

    terminal.type("/as erin@example.org")
    mine = terminal.type("/incident mine")
    assert "INC-2026-0001 · Closed · reported Mon 23 Nov 2026, 10:00 (Europe/Berlin) · Someone phoned as IT" in mine
    refused = terminal.press("Add note")
    assert "Sorry, working on incidents is for ISMS manager, security lead or security team only." in refused


def test_quick_report_and_shared_message_in_the_console(terminal):
    shown = terminal.type("/incident My badge is gone")
    assert "Thank you. Your report is INC-2026-0001." in shown and "[1] Add details" in shown
    shown = terminal.press("Add details", "", "", "Badge 0815", "7", "2", "", "")
    assert "Thank you, the details are added to INC-2026-0001." in shown
    assert "Category: Physical" in shown and "Affected system or asset: Badge 0815" in shown
    shown = terminal.type("/share Please send me the VPN password here", "", "", "", "6", "1", "", "")
    assert "Your report is INC-2026-0002" in shown
    assert "Please send me the VPN password here" in shown


def test_a_console_form_can_be_cancelled_and_shows_what_is_prefilled(terminal):
    shown = terminal.type("/incident", "Someone at the door", "/cancel")
    assert "(type /cancel to leave without saving)" in shown
    assert "Cancelled: nothing from “Report an incident” was saved." in shown
    assert "Your report is" not in shown
    assert terminal.prompts[-1].startswith(
        "  When did you notice it? (optional, Enter to skip) [YYYY-MM-DD HH:MM, Enter for 2026-11-23 10:00]"
    )
    terminal.type("/incident My badge is gone")
    terminal.type("/as sam@example.org")
    terminal.press("Incident")
    shown = terminal.press("Assign handler", "/cancel")
    assert "Cancelled" in shown and terminal.prompts[-1] == "  Handler [a name or an e-mail address]: "
    shown = terminal.press("Assign handler", "hana hart")
    assert "[to Hana Hart] You now handle INC-2026-0001" in shown
    terminal.type("/as erin@example.org")
    shown = terminal.press("Add details", "", "", "", "7", "2", "", "")
    assert "Thank you, the details are added to INC-2026-0001." in shown
    assert any("[Enter to keep: My badge is gone]" in p for p in terminal.prompts)

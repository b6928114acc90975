"""The console runs the scheduler's tick before each prompt, so evidence requests reach the people it
plays; ``isms-bot tick`` runs one tick for operators, and leaves it to a process that already leads."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from bot.cli import app
from bot.scheduler import LeaseLeadership
from storage.db import make_engine
from tests.test_console import run_ticking
from tests.world import berlin, org_file


def test_the_console_ticks_before_each_prompt_and_the_owner_answers_in_place(settings, clock, tmp_path):
    clock.set(berlin(2026, 12, 17, 17, 0))
    runtime, text = run_ticking(
        settings.model_copy(update={"config_path": org_file(tmp_path, [{"activity": "RA/risk-review"}])}),
        clock,
        [
            "/as olga@example.org",
            "1",  # the first button of the request: Submit evidence
            "Reviewed the register with the risk owners.",
            "https://wiki.example.org/q4",
            "",
            "",
            "",
            "/isms evidence",
        ],
        "alice@example.org",
    )
    runtime.engine.dispose()
    assert "[to Olga Ortiz] Evidence needed: Review the risks you own" in text
    assert "  [1] Submit evidence" in text
    assert "Thank you. Your evidence for EV-1 (Review the risks you own) is stored" in text
    assert "[to Alice Adams] Evidence to review from Olga Ortiz: Review the risks you own" in text
    assert (
        "EV-1 Review the risks you own (RA, 2026-Q4): due Thu 31 Dec 2026, 17:00 (Europe/Berlin), waiting for review"
        in text
    )
    assert text.count("Evidence needed: Review the risks you own") == 1  # every prompt ticked, one ask


def test_tick_command_runs_once_unless_another_process_leads(tmp_path):
    url = f"sqlite:///{tmp_path / 'isms.db'}"
    env = {"ISMS_DATABASE_URL": url, "ISMS_CONFIG": str(org_file(tmp_path, start="2099-01-01"))}
    first = CliRunner().invoke(app, ["tick"], env=env)
    assert first.exit_code == 0, first.output
    assert "Tick done; 0 effects wait in the outbox for the running bot to send." in first.output

    engine = make_engine(url)
    assert LeaseLeadership(engine, "server-1:42", timedelta(minutes=5)).claim()  # a running server leads
    second = CliRunner().invoke(app, ["tick"], env=env)
    engine.dispose()
    assert second.exit_code == 0, second.output
    assert "Another process runs the scheduler; nothing done here." in second.output

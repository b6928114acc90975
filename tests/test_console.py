"""The console chat runs the same router and workflows as Slack, with no Slack at all."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

from bot.console import Console
from bot.runtime import Runtime, build_runtime
from bot.scheduler import BotScheduler, ticking_prompt
from config.settings import Settings
from tests.support import FakeClock


def typed(lines: list[str]) -> Callable[[str], str]:
    """A prompt that answers with ``lines`` one by one, then ends the session (EOF)."""
    feed: Iterator[str] = iter(lines)

    def ask(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    return ask


def scripted(lines: list[str]) -> tuple[Console, list[str]]:
    output: list[str] = []
    return Console(ask=typed(lines), say=output.append), output


def run_ticking(settings: Settings, clock: FakeClock, lines: list[str], email: str) -> tuple[Runtime, str]:
    """Play ``lines`` as ``email`` in a console whose prompt runs the scheduler's tick before each line
    (as ``isms-bot chat`` does); returns the runtime (the caller disposes its engine) and all output."""
    output: list[str] = []
    holder: list = []
    console = Console(ask=lambda prompt: holder[0](prompt), say=output.append)
    runtime = build_runtime(settings, console.deliver, clock=clock)
    scheduler = BotScheduler(runtime.ctx, runtime.engine)
    holder.append(ticking_prompt(scheduler, runtime.dispatcher.drain, ask=typed(lines)))
    console.attach(runtime, email)
    try:
        console.run()
    finally:
        scheduler.stop()
    return runtime, "\n".join(output)


def test_help_by_role_and_refusal_in_the_console(settings, clock):
    console, output = scripted(["/isms help", "/as erin@example.org", "/isms help", "/isms outbox", "/quit"])
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")
    console.run()
    text = "\n".join(output)
    assert "You are Alice Adams (employee, ISMS manager)." in text  # roles as people read them
    assert "known to the ISMS bot of Example Ltd as: employee, ISMS manager." in text
    manager_help, employee_help = text.split("You are Erin Evans")
    assert "/isms outbox" in manager_help
    assert "/isms outbox:" not in employee_help
    assert "delivery report is for ISMS manager only" in employee_help


def test_unknown_command_and_button(settings, clock):
    console, output = scripted(["/isms frobnicate", "7", "hello"])
    runtime = build_runtime(settings, console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")
    console.run()
    text = "\n".join(output)
    assert "I don't know '/isms frobnicate'" in text
    assert "There is no button [7]" in text


def test_chat_command_starts_on_embedded_defaults(tmp_path):
    """The README's first command: a fresh directory, no environment, the example organisation."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--as", "erin@example.org"],
        input="/isms help\n/quit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[1])},
    )
    assert result.returncode == 0, result.stderr
    assert "You are Erin Evans" in result.stdout and "/incident" in result.stdout
    assert (tmp_path / "isms.db").exists()

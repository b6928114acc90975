"""The issue's "done when": an incident's request for change goes through Jira and back, and its result
reaches the incident thread and the handler, in Slack mode (webhook) and in the console chat (poll)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

import pytest

from bot.console import Console
from bot.runtime import build_runtime
from bot.server import BotServer
from config.settings import Settings
from tests.doubles.jira_api import JiraDouble
from tests.slack_client import SlackUser, text_of
from tests.support import FakeClock, eventually
from tests.test_changes_slack import click, opened_modal, submit_view, text
from tests.test_jira_tracker import jira_settings
from tests.test_jira_webhook import SECRET, post, webhook_settings
from tests.world import actor, change, fresh_key
from workflows.incidents import flows as incidents
from workflows.incidents.forms import ReportDetails
from workflows.kernel.process import run_due_work
from workflows.kernel.work import Context


def incident_with_change(ctx: Context) -> tuple[str, str]:
    """Erin reports, Sam triages and hands it to Hana, Hana asks for a change: (incident, change)."""
    outcome = incidents.report(
        ctx,
        actor(ctx, "erin"),
        key=fresh_key(),
        details=ReportDetails(
            summary="Ransomware note on the file server", noticed_at=ctx.clock(), category="malware", personal_data="no"
        ),
    )
    assert outcome.reply is not None
    ref = re.search(r"INC-\d{4}-\d{4}", outcome.reply.text).group(0)  # type: ignore[union-attr]
    incidents.classify(ctx, actor(ctx, "sam"), key=fresh_key(), ref=ref)
    incidents.assign(ctx, actor(ctx, "sam"), key=fresh_key(), ref=ref, handler="hana")
    incidents.request_change(
        ctx,
        actor(ctx, "hana"),
        key=fresh_key(),
        ref=ref,
        title="Block macros from the internet",
        description="Group policy: block macros in files from the internet.",
        reason="The ransomware came in through a macro.",
    )
    return ref, "CHG-2026-0001"


@pytest.fixture
def double(clock: FakeClock) -> Iterator[JiraDouble]:
    with JiraDouble(clock=clock) as jd:
        yield jd


def test_through_jira_and_back_into_the_incident_thread_in_slack(
    slack_settings: Settings, double, clock, slack, tmp_path
):
    with BotServer(webhook_settings(slack_settings, double, tmp_path), clock=clock) as bot:
        ctx = bot.runtime.ctx
        incident, ref = incident_with_change(ctx)
        click(bot, slack, "U0ALICE", "change.approve", ref)
        modal = opened_modal(slack, "change.approve")
        submit_view(
            bot,
            "U0ALICE",
            "change.approve",
            {"reason": text("Macros are our main malware entry")},
            modal["private_metadata"],
        )
        assert eventually(lambda: change(ctx, ref).tracker_key) == "ISMS-1"

        clock.advance(minutes=10)
        double.set_status("ISMS-1", "Done", resolution="Done", author="Hana Hart")
        double.add_comment("ISMS-1", "GPO 'Block macros from the internet' linked to all OUs.", author="Hana Hart")
        assert post(bot.url + f"/jira/webhook?secret={SECRET}", double.webhook_payload("ISMS-1")) == (
            200,
            {"applied": True},
        )
        assert eventually(lambda: [m for m in slack.messages_to("U0HANA") if "Does it work" in text_of(m)])
        reply = click(bot, slack, "U0HANA", "change.verify", ref)
        assert f"Thank you: {ref} is verified." in SlackUser(bot.url, slack, "U0HANA").reply_text(reply)

        line = (
            f"Change {ref} (ISMS-1): Verified. Result: Done\n"
            "GPO 'Block macros from the internet' linked to all OUs.\nVerified by Hana Hart: Works as intended."
        )
        in_thread = eventually(
            lambda: [
                m
                for m in slack.messages_to("C0TRIAGE")
                if m.get("thread_ts") and f"Change {ref} (ISMS-1): Verified" in text_of(m)
            ]
        )
        to_handler = eventually(
            lambda: [
                text_of(m)
                for m in slack.messages_to("U0HANA")
                if f"{incident}: Change {ref} (ISMS-1): Verified" in text_of(m)
            ]
        )

    assert len(in_thread) == 1 and line in text_of(in_thread[0])
    assert len(to_handler) == 1


def button(output: list[str], after: str, label: str) -> str:
    """The number the console printed for ``label`` on the newest message containing ``after``."""
    found = re.findall(re.escape(after) + r".*?\[(\d+)\] " + re.escape(label), "\n".join(output), re.DOTALL)
    assert found, f"no [{label}] after {after!r}"
    return found[-1]


def test_through_jira_and_back_into_the_incident_thread_in_the_console(settings: Settings, double, clock):
    answers: deque[str] = deque()
    output: list[str] = []
    console = Console(ask=lambda prompt: answers.popleft(), say=output.append)
    runtime = build_runtime(jira_settings(settings, double), console.deliver, clock=clock)
    console.attach(runtime, "alice@example.org")
    try:
        incident, ref = incident_with_change(runtime.ctx)
        runtime.dispatcher.drain()
        answers.append("Macros are our main malware entry")
        console.handle(button(output, f"Change {ref} waits for your decision", "Approve"))

        clock.advance(minutes=10)
        double.set_status("ISMS-1", "Done", resolution="Done", author="Hana Hart")
        double.add_comment("ISMS-1", "GPO linked to all OUs.", author="Hana Hart")
        clock.advance(minutes=5)
        run_due_work(runtime.ctx)
        runtime.dispatcher.drain()
        console.handle("/as hana@example.org")
        console.handle(button(output, f"Change {ref} is implemented (ISMS-1)", "It works"))
    finally:
        runtime.engine.dispose()

    text = "\n".join(output)
    assert f"[to Hana Hart] Change {ref} now has tracker issue ISMS-1." in text
    assert f"Thank you: {ref} is verified." in text
    assert (
        f"[to #security_triage (in thread)] Change {ref} (ISMS-1): Verified. Result: Done\n"
        "GPO linked to all OUs.\nVerified by Hana Hart: Works as intended."
    ) in text
    assert f"[to Hana Hart] {incident}: Change {ref} (ISMS-1): Verified." in text

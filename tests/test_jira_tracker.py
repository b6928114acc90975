"""The Jira tracker through the real ``jira`` client against the local Jira double.

Covers what the issue asks of it: one issue per change whatever fails in between (outage, throttling,
an answer that never arrives), the organisation's field mapping, both authentication styles, and the
poll that brings Jira's status and comments back to the change and, through it, to the origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jira as jira_client
import pytest
from sqlalchemy import select

from bot.runtime import Runtime, build_runtime
from config.settings import Settings, load_settings
from integrations.jira_tracker import JiraTracker, connect
from storage.models import OutboxEffect
from storage.outbox import Backoff, Dispatcher, Effect
from tests.doubles.jira_api import JiraDouble
from tests.support import FakeClock
from tests.world import Chat, actor, change, listen_as_origin, org_file, with_org
from workflows.changes.flows import decide, find, request_change
from workflows.changes.scheduled import queue_poll
from workflows.kernel.process import run_due_work
from workflows.kernel.routing import Request
from workflows.registry import PROCESSES

EMAIL, TOKEN, PAT = "isms-bot@example.com", "api-token", "personal-access-token"


def jira_settings(settings: Settings, double: JiraDouble, *, pat: bool = False) -> Settings:
    auth: dict[str, Any] = {"JIRA_PAT": PAT} if pat else {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
    extra = load_settings(JIRA_URL=double.url, JIRA_PROJECT="ISMS", **auth)
    return settings.model_copy(
        update={
            name: getattr(extra, name)
            for name in ("jira_url", "jira_project", "jira_email", "jira_api_token", "jira_pat")
        }
    )


@pytest.fixture
def double(clock: FakeClock) -> Iterator[JiraDouble]:
    with JiraDouble(clock=clock, issue_types=("Task", "Bug"), custom_fields={"customfield_10010": "ISMS change"}) as jd:
        yield jd


@pytest.fixture
def inbox() -> Chat:
    return Chat()


@pytest.fixture
def runtime(settings: Settings, double: JiraDouble, clock: FakeClock, inbox: Chat) -> Iterator[Runtime]:
    built = build_runtime(jira_settings(settings, double), inbox, clock=clock)
    yield built
    built.engine.dispose()


def approved_change(runtime: Runtime, title: str = "Block USB storage", **extra: Any) -> str:
    """A change asked for by an incident and approved by the ISMS manager, as one step each."""
    with runtime.ctx.work(actor(runtime.ctx, "sam")) as work:
        ref = request_change(
            work,
            title=title,
            description="Disable USB mass storage",
            reason="INC showed it",
            origin=("INC", "INC-2026-0007"),
            **extra,
        )
    with runtime.ctx.work(actor(runtime.ctx, "alice")) as work:
        decide(work, find(work, ref), approve=True, reason="Needed")
    return ref


def client_for(double: JiraDouble) -> jira_client.JIRA:
    """A person working in Jira (here with the bot's credentials, which the double accepts)."""
    return jira_client.JIRA(server=double.url, basic_auth=(EMAIL, TOKEN), max_retries=0, timeout=5)


def creates(double: JiraDouble) -> int:
    return sum(1 for r in double.requests if r.method == "POST" and r.path == "/rest/api/2/issue")


def effects(runtime: Runtime, kind: str) -> list[OutboxEffect]:
    with runtime.ctx.read() as session:
        return list(session.scalars(select(OutboxEffect).where(OutboxEffect.kind == kind)))


def test_an_approved_change_becomes_one_issue_with_the_organisations_mapping(settings, double, clock, inbox, tmp_path):
    path = org_file(
        tmp_path,
        live_programme=False,
        changes={
            "issue_types": {"default": "Task", "INC": "Bug"},
            "labels": ["isms", "security"],
            "components": ["ISMS"],
            "custom_fields": {"customfield_10010": "from the ISMS bot"},
            "record_url": "https://isms.example.org/changes/{ref}",
        },
    )
    runtime = build_runtime(with_org(jira_settings(settings, double), path), inbox, clock=clock)
    try:
        ref = approved_change(runtime, priority="high", plan="GPO on all laptops", fallback="Remove the GPO")
        runtime.dispatcher.drain()
        runtime.dispatcher.drain()
    finally:
        runtime.engine.dispose()

    fields = double.issues["ISMS-1"]["fields"]
    assert fields["summary"] == f"{ref}: Block USB storage"
    assert fields["issuetype"]["name"] == "Bug"
    assert fields["priority"]["name"] == "High"
    assert fields["labels"] == ["isms", "security", "isms-change", "isms-chg-2026-0001"]
    assert fields["components"] == [{"name": "ISMS"}]
    assert fields["customfield_10010"] == "from the ISMS bot"
    assert "Implementation plan:\nGPO on all laptops" in fields["description"]
    assert "Fall-back plan:\nRemove the GPO" in fields["description"]
    assert "Record: https://isms.example.org/changes/CHG-2026-0001" in fields["description"]
    assert creates(double) == 1
    assert inbox.texts("sam")[-1] == f"Change {ref} now has tracker issue ISMS-1."
    assert inbox.to("sam")[-1].body == f"{double.url}/browse/ISMS-1"


def test_an_issue_already_carrying_the_label_is_linked_not_created_again(runtime, double):
    client_for(double).create_issue(
        fields={
            "project": {"key": "ISMS"},
            "issuetype": {"name": "Task"},
            "summary": "made before a crash",
            "labels": ["isms-chg-2026-0001"],
        }
    )

    ref = approved_change(runtime)
    runtime.dispatcher.drain()

    assert change(runtime.ctx, ref).tracker_key == "ISMS-1"
    assert change(runtime.ctx, ref).state == "in-implementation"
    assert creates(double) == 1 and list(double.issues) == ["ISMS-1"]


def test_fifty_changes_queued_through_an_outage_get_exactly_fifty_issues(runtime, double, clock, inbox):
    double.outage(503)
    refs = [approved_change(runtime, title=f"Change number {n}") for n in range(50)]

    for _ in range(3):  # Jira stays down for a while: every creation is tried and waits again
        runtime.dispatcher.drain()
        clock.advance(seconds=1)
    queued = [text for text in inbox.texts("sam") if "not reachable" in text]
    assert double.issues == {}
    assert len(queued) == 50  # each requester is told once, not at every retry
    assert queued[0] == (
        f"The tracker is not reachable right now, so the issue for {refs[0]} is queued. "
        "It will be opened when the tracker is back; nothing else is needed from you."
    )

    double.recover()
    runtime.dispatcher.drain()

    labels = sorted(
        label
        for issue in double.issues.values()
        for label in issue["fields"]["labels"]
        if label.startswith("isms-chg-")
    )
    assert len(double.issues) == 50 and creates(double) == 50
    assert labels == sorted(f"isms-{ref.lower()}" for ref in refs)
    assert {change(runtime.ctx, ref).state for ref in refs} == {"in-implementation"}
    assert {e.status for e in effects(runtime, "tracker.create")} == {"sent"}


def test_a_create_whose_answer_never_arrives_does_not_make_a_second_issue(runtime, double, clock, inbox):
    settings = runtime.settings
    tracker = JiraTracker(settings, runtime.ctx, client_factory=lambda: connect(settings, timeout=0.5))
    dispatcher = Dispatcher(
        runtime.ctx.sessions,
        {"chat.message": inbox(runtime.ctx), **tracker.senders()},
        clock,
        backoff=Backoff(0.01, 0.05),
    )
    double.delay_after_create(2)
    ref = approved_change(runtime)

    dispatcher.drain()
    assert list(double.issues) == ["ISMS-1"]  # Jira made it, the bot never heard
    assert change(runtime.ctx, ref).tracker_key is None
    clock.advance(seconds=10)
    dispatcher.drain()
    assert creates(double) == 1  # the retry waits for Jira's search index (SETTLE_SECONDS)
    clock.advance(seconds=25)
    dispatcher.drain()

    assert change(runtime.ctx, ref).tracker_key == "ISMS-1"
    assert creates(double) == 1 and list(double.issues) == ["ISMS-1"]


def test_throttling_pauses_the_tracker_for_retry_after(runtime, double, clock):
    double.fail_next("/search", status=429, retry_after=7)
    ref = approved_change(runtime)

    runtime.dispatcher.drain()
    clock.advance(seconds=5)
    runtime.dispatcher.drain()
    assert double.issues == {}
    clock.advance(seconds=3)
    runtime.dispatcher.drain()

    assert change(runtime.ctx, ref).tracker_key == "ISMS-1"
    assert effects(runtime, "tracker.create")[0].attempts == 2


def test_a_mapping_jira_refuses_is_undeliverable_and_shown_to_the_isms_manager(
    settings, double, clock, inbox, tmp_path
):
    path = org_file(tmp_path, live_programme=False, changes={"issue_types": {"default": "Epic"}})
    runtime = build_runtime(with_org(jira_settings(settings, double), path), inbox, clock=clock)
    try:
        approved_change(runtime)
        runtime.dispatcher.drain()
        outcome = runtime.router.command(runtime.ctx, "/isms", Request(actor(runtime.ctx, "alice"), "o", text="outbox"))
    finally:
        runtime.engine.dispose()

    assert double.issues == {}
    assert outcome.reply is not None
    assert (
        "tracker-create:CHG-2026-0001 (tracker.create), 8 attempts: undeliverable: Jira refused creating the issue: 400"
        in outcome.reply.body
    )
    assert "valid issue type is required" in outcome.reply.body


@pytest.mark.parametrize(("deployment", "pat", "header"), [("Cloud", False, "Basic "), ("Server", True, "Bearer ")])
def test_both_authentication_styles(settings, clock, inbox, deployment, pat, header):
    with JiraDouble(deployment=deployment, clock=clock) as double:
        runtime = build_runtime(jira_settings(settings, double, pat=pat), inbox, clock=clock)
        try:
            ref = approved_change(runtime)
            runtime.dispatcher.drain()
            key = change(runtime.ctx, ref).tracker_key
        finally:
            runtime.engine.dispose()
        search = "/rest/api/2/search/jql" if deployment == "Cloud" else "/rest/api/2/search"

        assert key == "ISMS-1"
        assert [r.path for r in double.requests if "/search" in r.path] == [search]
        post = next(r for r in double.requests if r.method == "POST" and r.path == "/rest/api/2/issue")
        assert post.headers["authorization"].startswith(header)


@pytest.mark.parametrize("deployment", ["Server", "Cloud"])
def test_the_poll_brings_jira_status_and_comment_back_to_the_change_and_its_origin(
    settings, clock, inbox, monkeypatch, deployment
):
    origin = listen_as_origin(monkeypatch)
    assert queue_poll in [due for process in PROCESSES for due in process.due]
    with JiraDouble(deployment=deployment, clock=clock) as double:
        runtime = build_runtime(jira_settings(settings, double), inbox, clock=clock)
        try:
            ref = approved_change(runtime)
            runtime.dispatcher.drain()
            run_due_work(runtime.ctx)
            runtime.dispatcher.drain()
            first_poll = [r for r in double.requests if "/search" in r.path][-1]

            person = client_for(double)
            clock.advance(minutes=1)
            person.transition_issue("ISMS-1", "Start Progress")
            person.transition_issue("ISMS-1", "Done", comment="GPO deployed to all 40 laptops")
            clock.advance(minutes=5)
            run_due_work(runtime.ctx)
            runtime.dispatcher.drain()
            second_poll = [r for r in double.requests if "/search" in r.path][-1]
            implemented = change(runtime.ctx, ref)

            answer = runtime.router.action(
                runtime.ctx,
                "change.verify",
                Request(actor(runtime.ctx, "sam"), "v", text=inbox.button("sam", "change.verify")),
            )
            runtime.dispatcher.drain()
            comments = [c.body for c in person.comments("ISMS-1")]
        finally:
            runtime.engine.dispose()

    def jql(request: Any) -> str:
        return request.query["jql"][0] if "jql" in request.query else request.body["jql"]

    assert jql(first_poll) == 'labels = "isms-change" ORDER BY updated ASC'
    started = int(clock().timestamp() * 1000) - 6 * 60_000  # the first poll's start, minus the 2-minute overlap
    assert jql(second_poll) == f'labels = "isms-change" AND updated >= {started - 120_000} ORDER BY updated ASC'
    assert implemented.state == "implemented"
    assert implemented.result == "Done\nGPO deployed to all 40 laptops"
    assert inbox.texts("sam")[-2] == f"Change {ref} is implemented (ISMS-1). Does it work as intended?"
    assert answer.reply is not None and answer.reply.text == f"Thank you: {ref} is verified."
    assert [e.data["state"] for e in origin.named("change-status")] == [
        "approved",
        "in-implementation",
        "implemented",
        "verified",
    ]
    assert origin.named("change-finished")[0].data == {
        "change": ref,
        "state": "verified",
        "jira_key": "ISMS-1",
        "result": "Done\nGPO deployed to all 40 laptops\nVerified by Sam Shah: Works as intended.",
    }
    assert comments[-1] == "[ISMS] Verified by Sam Shah: Works as intended."


def test_wont_do_in_jira_fails_the_change_and_tells_the_origin(runtime, double, clock, monkeypatch):
    origin = listen_as_origin(monkeypatch)
    ref = approved_change(runtime)
    runtime.dispatcher.drain()

    clock.advance(minutes=1)
    double.set_status("ISMS-1", "Done", resolution="Won't Do", author="Hana Hart")
    double.add_comment("ISMS-1", "The vendor's agent needs USB; not doing this.", author="Hana Hart")
    clock.advance(minutes=5)
    run_due_work(runtime.ctx)
    runtime.dispatcher.drain()

    assert change(runtime.ctx, ref).state == "failed"
    assert origin.named("change-finished")[0].data == {
        "change": ref,
        "state": "failed",
        "jira_key": "ISMS-1",
        "result": "Won't Do\nThe vendor's agent needs USB; not doing this.",
    }


def test_no_poll_is_queued_without_open_jira_changes(runtime, clock):
    run_due_work(runtime.ctx)
    clock.advance(minutes=5)
    run_due_work(runtime.ctx)

    assert effects(runtime, "tracker.poll") == []


def test_a_retried_comment_is_added_once(runtime, double):
    ref = approved_change(runtime)
    runtime.dispatcher.drain()
    tracker = JiraTracker(runtime.settings, runtime.ctx)
    retried = Effect(
        "tracker.comment",
        f"tracker-comment:{ref}:note",
        {"ref": ref, "body": "Scheduled for Friday"},
        2,
        lambda key: None,
    )

    assert tracker.comment(retried) == tracker.comment(retried) == {"key": "ISMS-1"}
    assert [c.body for c in client_for(double).comments("ISMS-1")] == ["[ISMS] Scheduled for Friday"]

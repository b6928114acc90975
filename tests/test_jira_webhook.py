"""``POST /jira/webhook`` on the bot's real HTTP server: secret checks, idempotent and ordered updates,
and a status change in Jira reaching the change, its requester in Slack and the process that asked."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.server import BotServer
from config.settings import Settings, load_settings
from tests.doubles.jira_api import JiraDouble
from tests.slack_client import text_of
from tests.support import FakeClock, eventually
from tests.test_jira_tracker import approved_change, jira_settings
from tests.world import actions, change, listen_as_origin, org_file, with_org

SECRET = "jira-webhook-secret-5d1e"


def post(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def signature(body: dict[str, Any], secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), json.dumps(body).encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def double(clock: FakeClock) -> Iterator[JiraDouble]:
    with JiraDouble(clock=clock) as jd:
        yield jd


def webhook_settings(slack_settings: Settings, double: JiraDouble, tmp_path: Path) -> Settings:
    """Jira with its webhook, and polling off: the server's scheduler must not apply updates first."""
    settings = jira_settings(slack_settings, double).model_copy(
        update={"jira_webhook_secret": load_settings(JIRA_WEBHOOK_SECRET=SECRET).jira_webhook_secret}
    )
    return with_org(settings, org_file(tmp_path, live_programme=False, changes={"poll_minutes": 0}))


@pytest.fixture
def server(slack_settings: Settings, double: JiraDouble, clock: FakeClock, tmp_path: Path) -> Iterator[BotServer]:
    with BotServer(webhook_settings(slack_settings, double, tmp_path), clock=clock) as bot:
        yield bot


def linked_change(server: BotServer) -> str:
    ref = approved_change(server.runtime)
    assert eventually(lambda: change(server.runtime.ctx, ref).tracker_key) == "ISMS-1"
    return ref


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"query": "?secret=wrong"},
        {"headers": {"X-Hub-Signature": "sha256=" + "0" * 64}},
        {"headers": {"X-Hub-Signature": "sha1=whatever"}},
    ],
)
def test_a_webhook_without_the_right_secret_is_refused_and_changes_nothing(server, double, clock, credentials):
    ref = linked_change(server)
    clock.advance(minutes=1)
    double.set_status("ISMS-1", "Done", resolution="Done")
    before = actions(server.runtime.ctx, ref)

    status, body = post(
        server.url + "/jira/webhook" + credentials.get("query", ""),
        double.webhook_payload("ISMS-1"),
        credentials.get("headers"),
    )

    assert (status, body) == (401, {"error": "unauthorized"})
    assert change(server.runtime.ctx, ref).state == "in-implementation"
    assert actions(server.runtime.ctx, ref) == before


def test_a_status_change_in_jira_reaches_the_change_the_requester_and_the_origin(
    server, double, clock, slack, monkeypatch
):
    origin = listen_as_origin(monkeypatch)
    ref = linked_change(server)
    clock.advance(minutes=1)
    double.set_status("ISMS-1", "In Progress", author="Hana Hart")
    in_progress = double.webhook_payload("ISMS-1")
    clock.advance(minutes=1)
    double.set_status("ISMS-1", "Done", resolution="Done", author="Hana Hart")
    double.add_comment("ISMS-1", "USB storage blocked by GPO on every laptop.", author="Hana Hart")
    done = double.webhook_payload("ISMS-1")

    first = post(server.url + f"/jira/webhook?secret={SECRET}", done)
    duplicate = post(server.url + f"/jira/webhook?secret={SECRET}", done)
    late = post(server.url + "/jira/webhook", in_progress, {"X-Hub-Signature": signature(in_progress)})

    assert (first, duplicate, late) == ((200, {"applied": True}), (200, {"applied": False}), (200, {"applied": False}))
    implemented = change(server.runtime.ctx, ref)
    assert implemented.state == "implemented"
    assert implemented.result == "Done\nUSB storage blocked by GPO on every laptop."
    assert actions(server.runtime.ctx, ref).count("CHG tracker-updated") == 1
    assert origin.named("change-status")[-1].data == {
        "change": ref,
        "state": "implemented",
        "jira_key": "ISMS-1",
        "result": implemented.result,
    }
    asked = eventually(lambda: [text_of(m) for m in slack.messages_to("U0SAM") if "Does it work" in text_of(m)])
    assert len(asked) == 1
    assert f"Change {ref} is implemented (ISMS-1). Does it work as intended?" in asked[0]


def test_a_signed_webhook_is_accepted(server, double, clock):
    ref = linked_change(server)
    clock.advance(minutes=1)
    double.set_status("ISMS-1", "Done", resolution="Won't Do", author="Hana Hart")
    payload = double.webhook_payload("ISMS-1")

    status, body = post(server.url + "/jira/webhook", payload, {"X-Hub-Signature": signature(payload)})

    assert (status, body) == (200, {"applied": True})
    assert change(server.runtime.ctx, ref).state == "failed"


def test_a_webhook_about_an_unknown_issue_or_no_issue_is_ignored(server, double):
    status_unknown, unknown = post(
        server.url + f"/jira/webhook?secret={SECRET}",
        {
            "webhookEvent": "jira:issue_updated",
            "issue": {
                "key": "OTHER-1",
                "fields": {"status": {"name": "Done"}, "updated": "2026-11-23T09:00:00.000+0000"},
            },
        },
    )
    status_other, other = post(server.url + f"/jira/webhook?secret={SECRET}", {"webhookEvent": "project_created"})

    assert (status_unknown, unknown) == (200, {"applied": False})
    assert (status_other, other) == (200, {"applied": False, "reason": "not an issue event"})


def test_no_webhook_route_without_a_secret(slack_settings, double, clock):
    with BotServer(jira_settings(slack_settings, double), clock=clock) as bot:
        status, _ = post(bot.url + "/jira/webhook?secret=anything", {"issue": {}})
    assert status == 404


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        "issue",
        {"issue": []},
        {"issue": {"key": "ISMS-1", "fields": "Done"}},
        {"issue": {"key": "ISMS-1", "fields": {"status": "Done", "updated": "2026-11-23T09:00:00.000+0000"}}},
        {"issue": {"key": "ISMS-1", "fields": {"updated": 7}}},
        {"issue": {"key": "ISMS-1", "fields": {"updated": "2026-11-23T09:00:00.000+0000"}}, "user": "Hana"},
    ],
)
def test_a_signed_but_malformed_webhook_is_answered_not_a_500(server, payload):
    status, body = post(server.url + f"/jira/webhook?secret={SECRET}", payload)
    assert status == 200 and body["applied"] is False


def test_a_broken_body_and_an_unsigned_body_are_never_a_500_nor_logged(server, caplog):
    caplog.set_level("DEBUG")
    marker = "JIRA-BODY-MARKER-9c"
    for query, body in ((f"?secret={SECRET}", b'{"issue": '), ("", f'{{"x": "{marker}"'.encode())):
        request = urllib.request.Request(server.url + "/jira/webhook" + query, data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status in (200, 401)
    assert marker not in caplog.text


def test_control_characters_from_jira_are_cleaned_at_the_edge(server, double, clock):
    ref = linked_change(server)
    clock.advance(minutes=1)
    double.set_status("ISMS-1", "Done", resolution="Done", author="Hana Hart")
    double.add_comment("ISMS-1", "Blocked\x00 by GPO\x1b[0m.", author="Hana Hart")
    status, body = post(server.url + f"/jira/webhook?secret={SECRET}", double.webhook_payload("ISMS-1"))
    assert (status, body) == (200, {"applied": True})
    assert change(server.runtime.ctx, ref).result == "Done\nBlocked by GPO[0m."

"""The read-only trial holds for every app, also one built after other apps in the same process are gone
(as in a full test run, or a process that restarts its bot). SQLAlchemy keys an event listener on the
``id()`` of the sessionmaker it was given and keeps that key after the sessionmaker is freed; the
guard asked ``event.contains``, so a new sessionmaker that CPython placed at a freed guarded one's
address looked guarded and was not. Its trials then ran ``/incident <text>`` for real in the request
thread: acknowledged with an empty body, after the workflow, with no intake row (the flake of
``test_two_replicas_number_200_simultaneous_reports_without_gaps``: 100 rows, one server's share)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from slack_bolt import App, BoltRequest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.runtime import Runtime
from bot.server import build_slack
from bot.slack import trial
from bot.slack.app import GOT_IT, build_app
from bot.slack.intake import IntakeWorkers
from config.settings import Settings
from integrations.slack_sender import make_web_client
from storage.db import make_sessions
from storage.models import Incident, IntakeRequest
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.doubles.signing import signed_headers, slash_command_body
from tests.doubles.slack_api import SlackApiDouble
from tests.slack_client import text_of
from tests.support import FakeClock, eventually


def sessions_where_a_guarded_one_died(engine: Engine) -> sessionmaker[Session]:
    """New sessions at the address of a sessionmaker that was guarded and is gone: CPython gives a freed
    object's memory to the next object of its size, here at once."""
    for _ in range(1000):
        earlier = make_sessions(engine)
        trial.guard(earlier)
        address = id(earlier)
        del earlier
        sessions = make_sessions(engine)
        if id(sessions) == address:
            return sessions
    raise AssertionError("no sessionmaker took the address of a freed one")


@pytest.fixture
def runtime(slack_settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    built, _, _ = build_slack(slack_settings, clock=clock)  # an app built and dropped before ours
    yield built
    built.engine.dispose()


def app_on(runtime: Runtime, sessions: sessionmaker[Session], slack: SlackApiDouble) -> tuple[App, IntakeWorkers]:
    """The Bolt app and its workers as a server builds them, on ``sessions``."""
    ctx = replace(runtime.ctx, sessions=sessions)
    client = make_web_client(BOT_TOKEN, slack.base_url)
    return build_app(ctx, runtime.router, client, SIGNING_SECRET)


def incident_command(app: App, slack: SlackApiDouble, text: str, name: str) -> tuple[int, str]:
    """A signed ``/incident <text>`` from Erin, as Slack posts it; the acknowledgement's status and body."""
    body = slash_command_body("/incident", text, "U0ERIN", response_url=slack.response_url(name), trigger_id=name)
    response = app.dispatch(BoltRequest(body=body, headers=signed_headers(SIGNING_SECRET, body)))
    return response.status, response.body


def test_a_report_to_an_app_on_reused_sessions_is_stored_before_its_ack_and_run_by_a_worker(runtime, slack):
    sessions = sessions_where_a_guarded_one_died(runtime.engine)
    app, workers = app_on(runtime, sessions, slack)

    assert incident_command(app, slack, "Phishing mail to finance", "g1") == (200, GOT_IT)
    with sessions() as session:  # stored as it came; nothing of the workflow ran in the request thread
        assert [(row.key, row.status) for row in session.scalars(select(IntakeRequest))] == [("command:g1", "pending")]
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
    assert not slack.responses

    workers.start()
    try:
        assert eventually(lambda: _done(sessions), timeout=30)
    finally:
        workers.stop()
    runtime.dispatcher.drain()
    with sessions() as session:
        assert list(session.scalars(select(Incident.number))) == [1]
    [answer] = slack.responses
    assert answer.path.endswith("/g1")
    assert re.search(r"INC-\d{4}-0001", text_of(answer.args))


def test_what_only_reads_still_answers_at_once_on_reused_sessions(runtime, slack):
    sessions = sessions_where_a_guarded_one_died(runtime.engine)
    app, _ = app_on(runtime, sessions, slack)

    assert incident_command(app, slack, "timeline", "g2") == (200, "")  # a question: answered at once
    [answer] = slack.responses
    assert answer.path.endswith("/g2") and "Which incident?" in text_of(answer.args)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IntakeRequest)) == 0


def _done(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return session.scalar(select(IntakeRequest.status)) == "done"

"""Issue 10: the acknowledgement is off the workflow's path. A request that would store something is
stored in the intake (one row, even for Slack's retries), acknowledged, and run once by a worker;
what stores nothing answers at once; a worker that cannot finish a request retries it twice and then
tells the person with an ERR- reference; a process stopped after the acknowledgement leaves the
request to the next start. Signed requests against the real server and the Slack double."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update

from bot.server import BotServer
from storage import intake, records
from storage.models import Incident, IntakeRequest, Record
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import FORM_CONTENT_TYPE, post_signed, slash_command_body
from tests.slack_client import SlackUser, text_of
from tests.support import eventually, outbox_settled

USERS = ("U0ERIN", "U0OLGA", "U0MIA", "U0ALDO", "U0DORA", "U0HANA", "U0SAM", "U0ALICE")
BURST = 40


def intake_rows(bot) -> list[IntakeRequest]:  # type: ignore[no-untyped-def]
    with bot.runtime.ctx.sessions() as session:
        return list(session.scalars(select(IntakeRequest).order_by(IntakeRequest.id)))


def all_done(bot) -> bool:  # type: ignore[no-untyped-def]
    rows = intake_rows(bot)
    return bool(rows) and all(row.status == "done" for row in rows)


def report(bot, slack, user: str, what: str, name: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """``/incident <what>`` from ``user``, answered at the response URL ``name``, triggered as ``name``."""
    body = slash_command_body("/incident", what, user, response_url=slack.response_url(name), trigger_id=name)
    return post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, FORM_CONTENT_TYPE)


def test_a_burst_is_acknowledged_stored_and_each_report_made_once(bot, slack):
    def send(index: int) -> tuple[int, str, bool]:
        status, body = report(bot, slack, USERS[index % len(USERS)], f"Phishing mail number {index}", f"b{index}")
        with bot.runtime.ctx.sessions() as session:  # the request is stored once it is acknowledged
            stored = session.scalar(select(IntakeRequest.kind).where(IntakeRequest.key == f"command:b{index}"))
        return status, body, stored == "command"

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(send, range(BURST)))
    assert [status for status, _, _ in answers] == [200] * BURST
    assert {body for _, body, _ in answers} == {"Got it, working on it\u2026"}
    assert all(stored for _, _, stored in answers)
    assert eventually(lambda: all_done(bot), timeout=60)
    rows = intake_rows(bot)
    assert len(rows) == BURST and {row.attempts for row in rows} == {1} and {row.kind for row in rows} == {"command"}

    slack.wait_for(lambda call: call.path.startswith("/response/b"), count=BURST, timeout=30)
    bot.runtime.dispatcher.drain()
    replies = {call.path.rsplit("/", 1)[1]: text_of(call.args) for call in slack.responses}
    assert len(slack.responses) == BURST  # one answer for each person, none twice
    refs = sorted(re.search(r"INC-\d{4}-\d{4}", replies[f"b{i}"]).group(0) for i in range(BURST))  # type: ignore[union-attr]
    assert refs == [f"INC-2026-{n:04d}" for n in range(1, BURST + 1)]
    with bot.runtime.ctx.sessions() as session:
        numbers = sorted(session.scalars(select(Incident.number)))
        summaries = set(session.scalars(select(Incident.summary)))
    assert numbers == list(range(1, BURST + 1))  # numbered without gaps
    assert summaries == {f"Phishing mail number {i}" for i in range(BURST)}
    with bot.runtime.ctx.sessions.begin() as session:
        records.link_pending(session, datetime.now(UTC))
    with bot.runtime.ctx.sessions() as session:
        verification = records.verify(session)
    assert verification.broken_seq is None, verification.reason
    assert verification.unlinked == 0


def test_a_slack_retry_is_one_row_one_report_one_answer(bot, slack):
    body = slash_command_body(
        "/incident", "Laptop stolen from my car", "U0ERIN", response_url=slack.response_url("again")
    )
    url = bot.url + "/slack/events"
    assert post_signed(url, SIGNING_SECRET, body, FORM_CONTENT_TYPE)[0] == 200
    for attempt in ("1", "2"):
        retry = {"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"}
        assert post_signed(url, SIGNING_SECRET, body, FORM_CONTENT_TYPE, extra_headers=retry)[0] == 200
    assert len(intake_rows(bot)) == 1
    answer = slack.wait_for(lambda call: call.path.endswith("/response/again"))
    assert "Your report is INC-2026-0001" in text_of(answer.args)
    assert eventually(lambda: all_done(bot))
    bot.runtime.dispatcher.drain()
    assert len(slack.responses) == 1
    with bot.runtime.ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_what_stores_nothing_answers_at_once_without_the_intake(bot, slack):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, help_url = erin.command("/isms", "help")
    assert status == 200
    assert "/incident" in erin.reply_text(help_url)
    status, _ = erin.command("/incident")  # the report form: opened within its trigger's 3 s
    assert status == 200
    opened = slack.wait_for(lambda call: call.method == "views.open")
    assert opened.args["view"]["callback_id"] == "incident.report"
    assert intake_rows(bot) == []


def test_a_failing_workflow_tells_the_person_and_is_not_run_again(bot, slack):
    """The database refuses every new incident: the workflow fails after the acknowledgement."""
    with bot.runtime.engine.begin() as connection:
        refuse(connection, "INSERT", "incidents")
    erin = SlackUser(bot.url, slack, "U0ERIN")
    status, url = erin.command("/incident", "Somebody tailgated into the office")
    assert status == 200
    answer = erin.reply_text(url)
    assert "Sorry, something went wrong while handling /incident" in answer
    reference = re.search(r"ERR-[0-9A-F]{6}", answer)
    assert reference is not None
    assert eventually(lambda: all_done(bot))
    [row] = intake_rows(bot)
    assert (row.status, row.attempts) == ("done", 1)
    with bot.runtime.ctx.sessions() as session:
        failures = session.scalars(select(Record.subject_id).where(Record.action == "failure")).all()
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
    assert failures == [reference.group(0)]


def test_a_request_that_cannot_be_finished_is_retried_twice_then_given_up(bot, slack, clock):
    """Marking the request done fails (the database refuses it), so its reply is never queued: the
    worker retries after 5 s and 30 s, then tells the person with an ERR- reference and stops."""
    alice, erin = SlackUser(bot.url, slack, "U0ALICE"), SlackUser(bot.url, slack, "U0ERIN")
    assert "Slack requests" not in isms_status(alice)  # all zero: no line
    with bot.runtime.engine.begin() as connection:
        refuse(connection, "UPDATE", "slack_intake", when="NEW.status = 'done'")
    status, url = erin.command("/incident", "My badge was cloned")
    assert status == 200

    def attempts() -> tuple[str, int]:
        [row] = intake_rows(bot)
        return row.status, row.attempts

    assert eventually(lambda: attempts() == ("pending", 1))
    assert "Slack requests: 1 waiting, 0 running, 0 failed requests in the last 30 days" in isms_status(alice)
    for seconds, expected in ((5, ("pending", 2)), (30, ("failed", 3))):
        assert bot.intake.sweep_once() == 0  # not yet due
        clock.advance(seconds=seconds)
        bot.intake.sweep_once()  # (or the sweep's own thread, within 5 s)
        assert eventually(lambda: attempts() == expected), attempts()  # noqa: B023
    answer = erin.reply_text(url)
    reference = re.search(r"ERR-[0-9A-F]{6}", answer)
    assert reference is not None
    assert "Sorry, I could not finish your command /incident. Please check whether it took effect" in answer
    [row] = intake_rows(bot)
    assert row.error is not None and row.error.startswith(reference.group(0))
    assert eventually(lambda: outbox_settled(bot))  # the answer is marked sent before the clock jumps
    clock.advance(minutes=10)
    assert bot.intake.sweep_once() == 0  # failed for good: never run again
    with bot.runtime.ctx.sessions() as session:
        # the workflow ran three times and stored one report: it is safe to run twice
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        failures = session.scalars(select(Record.subject_id).where(Record.action == "failure")).all()
    assert failures == [reference.group(0)]
    assert [call.path for call in slack.responses].count("/response/" + url.rsplit("/", 1)[1]) == 1
    # the ISMS manager sees the failure in /isms status, with the reference the person was given
    shown = f"Slack requests: 0 waiting, 0 running, 1 failed request in the last 30 days (newest {reference.group(0)})"
    assert shown in isms_status(alice)
    assert "Slack requests" not in isms_status(erin)  # an employee sees only her own items
    clock.advance(days=31)
    assert "Slack requests" not in isms_status(alice)  # older than the 30 days: no longer counted


def isms_status(person: SlackUser) -> str:
    """What ``person`` reads in the reply to ``/isms status``."""
    _, url = person.command("/isms", "status")
    return person.reply_text(url)


def test_a_request_acknowledged_before_a_stop_is_run_at_the_next_start(slack_settings, slack, clock):
    with BotServer(slack_settings, clock=clock) as first:
        first.intake.stop()  # the workers are gone, as after a crash: requests stay stored
        status, _ = report(first, slack, "U0OLGA", "Printer shares scans publicly", "later")
        assert status == 200
        [row] = intake_rows(first)
        assert (row.status, row.attempts) == ("pending", 0)
    assert slack.responses == []
    with BotServer(slack_settings, clock=clock) as second:
        assert eventually(lambda: all_done(second))
        answer = slack.wait_for(lambda call: call.path.endswith("/response/later"))
        assert "Your report is INC-2026-0001" in text_of(answer.args)
        [row] = intake_rows(second)
        assert row.attempts == 1
        with second.runtime.ctx.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Incident)) == 1


# -- faults the database injects (triggers), so the real code fails where it would --------------------


REFUSE = "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$ LANGUAGE plpgsql"


def refuse(connection, event: str, table: str, when: str = "") -> None:  # type: ignore[no-untyped-def]
    """The database fails every ``event`` (INSERT, UPDATE) on ``table`` (where ``when`` holds)."""
    if connection.dialect.name == "sqlite":
        condition = f"WHEN {when} " if when else ""
        connection.execute(
            text(
                f"CREATE TRIGGER refuse BEFORE {event} ON {table} {condition}"
                "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        )
        return
    condition = f"WHEN ({when}) " if when else ""
    connection.execute(text(REFUSE))
    connection.execute(
        text(f"CREATE TRIGGER refuse BEFORE {event} ON {table} FOR EACH ROW {condition}EXECUTE FUNCTION refuse()")
    )


def test_the_tick_prunes_done_requests_after_an_hour_and_failed_ones_after_30_days(bot, slack, clock):
    erin = SlackUser(bot.url, slack, "U0ERIN")
    assert erin.command("/incident", "Shoulder surfing on the train")[0] == 200
    assert eventually(lambda: [row.status for row in intake_rows(bot)] == ["done"])
    with bot.runtime.ctx.sessions.begin() as session:  # and one that failed for good at the same time
        session.add(
            IntakeRequest(
                key="failed-earlier", kind="command", payload={}, received_at=clock(), status="failed", attempts=3
            )
        )
        session.execute(update(IntakeRequest).values(finished_at=clock()))
    # The bot's own tick prunes with the same clock, so it may get there first: what is checked is what
    # is left, not which of the two deleted it.
    clock.advance(minutes=61)
    with bot.runtime.ctx.sessions.begin() as session:
        intake.prune(session, clock())
    assert [row.key for row in intake_rows(bot)] == ["failed-earlier"]  # kept for its follow-up
    clock.advance(days=30)
    with bot.runtime.ctx.sessions.begin() as session:
        intake.prune(session, clock())
    assert intake_rows(bot) == []

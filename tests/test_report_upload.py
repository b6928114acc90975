"""Reports shared as files in Slack, through the real HTTP server and the Slack double: the monthly
report in the reports channel once per month, exactly once even when Slack loses or refuses the
answer to the step that shares it; ``/isms report`` for the ISMS manager, management and auditors;
and the double's three upload steps as Slack answers them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.server import BotServer
from integrations.slack_sender import make_web_client
from storage.models import OutboxEffect
from tests import status_data
from tests.conftest import BOT_TOKEN
from tests.doubles.slack_api import FILE_UPLOAD_METHOD, SlackApiDouble
from tests.slack_client import SlackUser
from tests.support import eventually
from tests.world import Chat, World

MONTHLY_DUE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09:00 in Berlin on the 1st: the report on November
STEPS = ["files.getUploadURLExternal", FILE_UPLOAD_METHOD, "files.completeUploadExternal"]


@pytest.fixture
def reports_bot(slack_settings, clock, tmp_path) -> Iterator[BotServer]:
    settings = slack_settings.model_copy(update={"config_path": status_data.reporting_org(tmp_path)})
    with BotServer(settings, clock=clock) as server:
        status_data.seed(World(server.runtime, Chat(), clock))
        yield server


def upload_calls(slack: SlackApiDouble) -> list[str]:
    return [call.method for call in slack.calls if call.method in STEPS or call.method == "files.info"]


def upload_effect(bot: BotServer, key: str) -> OutboxEffect:
    with bot.runtime.ctx.read() as session:
        found = session.scalar(select(OutboxEffect).where(OutboxEffect.key == key))
        assert found is not None
        session.expunge(found)
        return found


def settled(bot: BotServer, clock, key: str) -> OutboxEffect:  # type: ignore[no-untyped-def]
    """The effect once it is sent or given up; the controlled clock moves a second at a time, so the
    dispatcher's backoff between attempts passes."""

    def done() -> OutboxEffect | None:
        effect = upload_effect(bot, key)
        if effect.status in ("sent", "dead"):
            return effect
        clock.advance(seconds=1)
        bot.runtime.dispatcher.wake()
        return None

    found = eventually(done)
    assert found is not None, f"{key} was neither sent nor given up"
    return found


def test_monthly_report_is_shared_in_the_reports_channel_once(reports_bot, slack, clock):
    clock.set(MONTHLY_DUE)
    reports_bot.scheduler.tick()
    reports_bot.scheduler.tick()
    effect = settled(reports_bot, clock, "com.monthly-report:2026-11:file")
    shared = slack.shared_files("C0REPORTS")
    assert len(shared) == 1
    info, content, comment = shared[0]
    assert info["name"] == "isms-monthly-report-2026-11.html" and info["title"] == "Monthly ISMS report, 2026-11"
    html = content.decode()
    assert html.startswith("<!DOCTYPE html>") and "Monthly ISMS report, 2026-11" in html and "<svg" in html
    assert comment == "Monthly ISMS report, 2026-11: the full report with charts (HTML, prints on A4)."
    assert upload_calls(slack) == STEPS  # nothing to look up on a first attempt
    posts = eventually(lambda: [m["text"] for m in slack.messages_to("C0REPORTS") if m["text"].startswith("Monthly")])
    assert posts == ["Monthly ISMS report, 2026-11"]  # the summary, beside the file
    assert effect.result == {"file_id": info["id"], "channel": "C0REPORTS", "permalink": info["permalink"]}
    record = [r for r in status_records(reports_bot) if r[0] == "report-sent" and r[1] == "2026-11"]
    assert record[0][2]["file"] == info["name"] and record[0][2]["sha256"] == hashlib.sha256(content).hexdigest()


def status_records(bot: BotServer) -> list[tuple[str, str, dict[str, object]]]:
    world = World(bot.runtime, Chat(), bot.runtime.ctx.clock)  # type: ignore[arg-type]
    return [(action, subject, data) for _, action, subject, data in world.records(process="COM")]


def test_a_lost_answer_to_the_share_is_adopted_not_shared_again(reports_bot, slack, clock):
    slack.lose_answers("files.completeUploadExternal", "500")
    clock.set(MONTHLY_DUE)
    reports_bot.scheduler.tick()
    effect = settled(reports_bot, clock, "com.monthly-report:2026-11:file")
    assert len(slack.shared_files("C0REPORTS")) == 1
    # the second attempt asked Slack where the saved file is shared, found it, and uploaded nothing
    assert upload_calls(slack) == [*STEPS, "files.info"]
    assert effect.attempts == 2 and effect.result is not None
    assert effect.result["file_id"] == slack.shared_files("C0REPORTS")[0][0]["id"]


def test_a_failed_share_completes_the_same_upload_when_slack_is_back(reports_bot, slack, clock):
    slack.fail_next("files.completeUploadExternal", 503, times=2)
    clock.set(MONTHLY_DUE)
    reports_bot.scheduler.tick()
    effect = settled(reports_bot, clock, "com.monthly-report:2026-11:file")
    assert len(slack.shared_files("C0REPORTS")) == 1
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1  # the bytes went up once
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    assert [c.method for c in slack.rejected] == ["files.completeUploadExternal"] * 2
    assert effect.attempts == 3


def test_a_failed_upload_of_the_bytes_starts_a_new_upload(reports_bot, slack, clock):
    slack.fail_next(FILE_UPLOAD_METHOD, 500)
    clock.set(MONTHLY_DUE)
    reports_bot.scheduler.tick()
    settled(reports_bot, clock, "com.monthly-report:2026-11:file")
    shared = slack.shared_files("C0REPORTS")
    assert len(shared) == 1 and shared[0][1].decode().startswith("<!DOCTYPE html>")
    assert len(slack.calls_to("files.getUploadURLExternal")) == 2  # the first file id was never completed


def test_a_channel_slack_refuses_parks_the_file_and_shares_nothing(reports_bot, slack, clock):
    slack.fail_next("files.completeUploadExternal", 200, error="channel_not_found")
    clock.set(MONTHLY_DUE)
    reports_bot.scheduler.tick()
    effect = eventually(
        lambda: (e := upload_effect(reports_bot, "com.monthly-report:2026-11:file")).status == "dead" and e
    )
    assert effect and effect.last_error == "undeliverable: Slack refused: channel_not_found"
    assert slack.shared_files("C0REPORTS") == []


# -- /isms report ------------------------------------------------------------------------------------


def test_the_isms_manager_gets_the_monthly_report_in_a_dm(reports_bot, slack):
    alice = SlackUser(reports_bot.url, slack, "U0ALICE")
    status, response_url = alice.command("/isms", "report monthly 2026-11")
    assert status == 200
    reply = alice.reply_text(response_url)
    assert "Monthly ISMS report, 2026-11" in reply and "Incidents: 8 reported" in reply
    assert "(isms-monthly-report-2026-11.html) is on its way to your direct messages" in reply
    shared = eventually(lambda: slack.shared_files("U0ALICE"))
    assert len(shared) == 1
    info, content, comment = shared[0]
    assert info["name"] == "isms-monthly-report-2026-11.html" and "Incident register" not in content.decode()
    assert comment == "Monthly ISMS report, 2026-11: the full report with charts, as you asked."
    opened = slack.calls_to("conversations.open")
    assert opened and opened[-1].args["users"] == "U0ALICE"
    asked = [r for r in status_records(reports_bot) if r[0] == "report-requested"]
    assert asked == [
        (
            "report-requested",
            "monthly 2026-11",
            {"to": "alice", "file": info["name"], "sha256": hashlib.sha256(content).hexdigest()},
        )
    ]


def test_a_weekly_report_and_an_auditors_access_is_recorded(reports_bot, slack):
    aldo = SlackUser(reports_bot.url, slack, "U0ALDO")
    _, response_url = aldo.command("/isms", "report weekly 2026-W45")
    assert "Weekly ISMS digest, 2026-W45" in aldo.reply_text(response_url)
    shared = eventually(lambda: slack.shared_files("U0ALDO"))
    assert [info["name"] for info, _, _ in shared] == ["isms-status-report-2026-W45.html"]
    access = [r for r in status_records(reports_bot) if r[0] == "auditor-access"]
    assert access == [("auditor-access", "2026-W45", {"what": "/isms report weekly 2026-W45"})]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("monthly 2026-13", "I cannot read '2026-13' as a month such as 2026-11."),
        ("monthly next month", "I cannot read 'next month' as a month such as 2026-11."),
        ("weekly 2026-11", "I cannot read '2026-11' as a week such as 2026-W48."),
        ("monthly 2027-03", "2027-03 has not begun yet."),
    ],
)
def test_a_period_that_cannot_be_read_gets_examples_and_nothing_is_shared(reports_bot, slack, text, answer):
    mia = SlackUser(reports_bot.url, slack, "U0MIA")
    _, response_url = mia.command("/isms", f"report {text}")
    reply = mia.reply_text(response_url)
    assert answer in reply and "/isms report monthly 2026-11, /isms report weekly 2026-W48" in reply
    assert slack.calls_to("files.getUploadURLExternal") == []
    assert [r for r in status_records(reports_bot) if r[0] == "report-requested"] == []


def test_an_employee_is_told_who_reports_are_for(reports_bot, slack):
    erin = SlackUser(reports_bot.url, slack, "U0ERIN")
    _, response_url = erin.command("/isms", "report monthly 2026-11")
    reply = erin.reply_text(response_url)
    assert "Sorry, the ISMS reports is for auditor, ISMS manager or management only." in reply
    assert "This attempt has been recorded." in reply
    assert slack.calls_to("files.getUploadURLExternal") == []
    world = World(reports_bot.runtime, Chat(), reports_bot.runtime.ctx.clock)  # type: ignore[arg-type]
    denied = world.records(action="access-denied", process="COM")
    assert [(who, data["attempted"]) for who, _, _, data in denied] == [("erin", "the ISMS reports")]


# -- the double ----------------------------------------------------------------------------------


def test_the_double_speaks_the_three_upload_steps_as_slack_does(slack):
    client = make_web_client(BOT_TOKEN, slack.base_url)
    with pytest.raises(SlackApiError) as no_length:
        client.files_getUploadURLExternal(filename="a.txt", length=0)
    assert no_length.value.response["error"] == "missing_argument"
    begun = client.files_getUploadURLExternal(filename="a.txt", length=5)
    with pytest.raises(SlackApiError) as early:
        client.files_completeUploadExternal(files=[{"id": begun["file_id"]}], channel_id="C0REPORTS")
    assert early.value.response["error"] == "file_not_found"  # the bytes never arrived
    with pytest.raises(SlackApiError) as unknown:
        client.files_info(file=begun["file_id"])
    assert unknown.value.response["error"] == "file_not_found"  # nobody sees an upload not completed
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as short:
        urllib.request.urlopen(urllib.request.Request(begun["upload_url"], data=b"abc", method="POST"))
    assert short.value.code == 400
    with urllib.request.urlopen(urllib.request.Request(begun["upload_url"], data=b"hello", method="POST")) as answer:
        assert answer.read() == b"OK - 5"
    done = client.files_completeUploadExternal(
        files=[{"id": begun["file_id"], "title": "A"}], channel_id="C0REPORTS", initial_comment="see"
    )
    assert done["files"][0]["title"] == "A"
    info = client.files_info(file=begun["file_id"])["file"]
    assert info["channels"] == ["C0REPORTS"] and "C0REPORTS" in info["shares"]["public"]
    assert [(i["name"], c, t) for i, c, t in slack.shared_files("C0REPORTS")] == [("a.txt", b"hello", "see")]

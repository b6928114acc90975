"""Reports people open as files in chat, beside the messages that announce them: the post-incident
report (reports channel and incident channel), the internal audit report (reports channel and the
auditors), the management review's input pack and its ``.ics`` invitation (each attendee's DMs), and
``/isms soa`` as XLSX for the person asking. Each file is the stored report (the record's SHA-256 is
the shared bytes'), shared once per report even when the request or the effect is retried; through
the test world, signed Slack requests against the Slack double, and the console."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.runtime import build_runtime
from storage.models import OutboxEffect
from tests.slack_client import SlackUser
from tests.support import eventually, settle
from tests.test_audits_flow import NONCONFORMITY, start_audit
from tests.test_console import scripted
from tests.test_incident_report import report_records
from tests.test_incident_room import report
from tests.test_incidents_slack import press, triage_post
from tests.test_report_upload import upload_calls
from tests.test_review_pack import review_org
from tests.world import Chat, World, berlin, make_world
from workflows.kernel.process import run_due_work
from workflows.kernel.routing import Request
from workflows.outreach.files import UPLOAD_KIND

REPORTS = "C0REPORTS"
ATTENDEES = ("mia", "alice", "olga", "sam")


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    w = make_world(settings, clock)
    yield w
    w.close()


@pytest.fixture
def review_world(settings, clock, tmp_path) -> Iterator[World]:
    w = make_world(settings, clock, review_org(tmp_path))
    yield w
    w.close()


# -- the internal audit report -------------------------------------------------------------------------


def test_the_audit_report_goes_to_the_reports_channel_and_the_auditors_as_the_stored_html(world):
    start_audit(world)
    world.fill("aldo", "audit.finding", NONCONFORMITY, "")
    request = Request(world.actor("aldo"), "command:audit-report-1", text="audit report AUD-2026-0001")
    world.runtime.router.command(world.ctx, "/isms", request)
    world.deliver()

    [(_, _, _, data)] = world.records("audit-reported", "AUD")
    name = "audit-report-AUD-2026-0001-2026-12-07.html"
    for to in ("channel:isms_reports", "person:aldo"):
        [shared] = world.chat.files(to)
        assert (shared.filename, shared.title) == (name, "Internal audit report AUD-2026-0001")
        assert shared.sha256 == data["sha256"]["html"]
        assert shared.content.decode().startswith("<!DOCTYPE html>") and "AUD-2026-0001-F1" in shared.content.decode()
        assert shared.comment == "Internal audit report AUD-2026-0001: the whole report (HTML)."
    assert world.chat.files("person:alice") == []  # the ISMS manager gets the notice, the auditors the file
    # the same request again (a Slack retry), and the auditor pressing "report" once more: one file each
    world.runtime.router.command(world.ctx, "/isms", request)
    again = world.command("aldo", "audit report AUD-2026-0001")
    world.deliver()
    assert again.reply is not None and again.reply.text == "AUD-2026-0001 was already reported."
    assert [s.to for s in world.chat.shared] == ["channel:isms_reports", "person:aldo"]


# -- the management review -----------------------------------------------------------------------------


def test_each_attendee_gets_the_invitation_as_an_ics_file_and_a_moved_review_a_new_one(review_world):
    world = review_world
    world.tick()
    world.tick()  # the planned review is scheduled once: one invitation each

    [(_, _, _, scheduled)] = world.records("review-scheduled", "GOV")
    for person in ATTENDEES:
        [shared] = world.chat.files(f"person:{person}")
        assert shared.filename == "management-review-REV-2027-01-2027-03-15.ics"
        assert shared.title == "Management review (REV-2027-01): calendar invitation"
        assert shared.content == scheduled["ics"].encode()
        lines = shared.content.decode().split("\r\n")
        assert lines[0] == "BEGIN:VCALENDAR" and "UID:rev-2027-01@isms-bot" in lines and "SEQUENCE:0" in lines
        assert "DTSTART:20270315T090000Z" in lines

    moved = world.command("alice", "review move REV-2027-01 2027-03-17 14:00")
    world.deliver()
    assert moved.reply is not None and "REV-2027-01" in moved.reply.text
    second = world.records("review-scheduled", "GOV")[1][3]
    for person in ATTENDEES:
        _, update = world.chat.files(f"person:{person}")
        assert update.filename == "management-review-REV-2027-01-2027-03-17.ics"
        assert update.content == second["ics"].encode()
        lines = update.content.decode().split("\r\n")
        assert "UID:rev-2027-01@isms-bot" in lines and "SEQUENCE:1" in lines  # the same event, updated


def test_the_input_pack_is_shared_with_each_attendee_once_as_the_stored_html(review_world):
    world = review_world
    world.tick()
    world.chat.clear()
    world.at(berlin(2027, 3, 8, 10, 0))
    world.at(berlin(2027, 3, 8, 10, 1))  # a second tick assembles nothing more

    [(_, _, _, data)] = world.records("pack-assembled", "GOV")
    for person in ATTENDEES:
        [shared] = world.chat.files(f"person:{person}")
        assert shared.filename == "management-review-pack-REV-2027-01-2027-03-08.html"
        assert shared.sha256 == data["html_sha256"]
        assert "Status of actions from earlier reviews</h2>" in shared.content.decode()
    assert len(world.chat.shared) == len(ATTENDEES)


# -- /isms soa -----------------------------------------------------------------------------------------


def test_isms_soa_shares_the_xlsx_with_the_person_asking_once(world):
    request = Request(world.actor("alice"), "command:soa-1", text="soa")
    answer = world.runtime.router.command(world.ctx, "/isms", request)
    world.runtime.router.command(world.ctx, "/isms", request)  # Slack's retry: the same request again
    world.deliver()

    name = "statement-of-applicability-SoA-2026-11-23.xlsx"
    assert answer.reply is not None
    assert answer.reply.footer == f"The whole SoA with evidence hashes ({name}) is on its way to your direct messages."
    [shared] = world.chat.files("person:alice")
    assert shared.filename == name and shared.comment.startswith("Annex A controls: 93")
    sheet = load_workbook(io.BytesIO(shared.content))["Statement of Applicability"]
    assert [cell.value for cell in sheet[1]][:3] == ["control", "name", "source"]
    assert sheet.max_row == 1 + 93 and sheet["A2"].value == "A.5.1"
    [(actor, _, subject, data)] = world.records("soa-shared", "RT")
    assert (actor, subject, data) == ("alice", name, {"to": "alice", "file": name, "sha256": shared.sha256})


def test_isms_soa_refused_or_paged_shares_nothing(world):
    refused = world.command("erin", "soa")
    assert refused.reply is not None and "Statement of Applicability is for" in refused.reply.text
    world.press("alice", "register.more", "soa:20")
    assert world.chat.shared == [] and world.records("soa-shared", "RT") == []


def test_an_soa_too_large_for_chat_names_the_command_line_and_records_no_share(world, monkeypatch):
    monkeypatch.setattr("workflows.outreach.files.MAX_BYTES", 1_000)  # a register this XLSX outgrows

    answer = world.command("alice", "soa")
    world.deliver()

    assert answer.reply is not None and answer.reply.footer == (
        "The whole SoA is larger than the bot shares in chat: isms-bot report soa --format xlsx --out soa.xlsx "
        "writes it."
    )
    assert world.chat.shared == [] and world.records("soa-shared", "RT") == []


# -- through Slack ------------------------------------------------------------------------------------


def test_a_slack_retry_of_isms_soa_shares_one_xlsx_in_the_dm(bot, slack):
    alice = SlackUser(bot.url, slack, "U0ALICE")
    _, first = alice.command("/isms", "soa", trigger_id="1763888400.9.soa")
    assert "is on its way to your direct messages" in alice.reply_text(first)
    status, _ = alice.command("/isms", "soa", trigger_id="1763888400.9.soa")  # Slack's retry of the same command
    assert status == 200
    settle(bot)
    [(info, content, comment)] = slack.shared_files("U0ALICE")
    assert info["name"].startswith("statement-of-applicability-SoA-") and info["name"].endswith(".xlsx")
    assert comment.startswith("Annex A controls: 93")
    assert load_workbook(io.BytesIO(content))["Statement of Applicability"]["A2"].value == "A.5.1"


def retried_until_sent(bot, clock) -> bool:  # type: ignore[no-untyped-def]
    """True once nothing waits in the outbox; else a second passes on the controlled clock, so the
    dispatcher's backoff before the next attempt is over."""
    with bot.runtime.ctx.read() as session:
        if not session.scalars(select(OutboxEffect.key).where(OutboxEffect.status.in_(("pending", "sending")))).all():
            return True
    clock.advance(seconds=1)
    bot.runtime.dispatcher.wake()
    return False


def test_the_post_incident_report_is_shared_once_in_both_channels_even_when_slack_loses_the_answer(bot, slack, clock):
    erin, sam, aldo = (SlackUser(bot.url, slack, u) for u in ("U0ERIN", "U0SAM", "U0ALDO"))
    ref = report(erin, "Ransomware note on the file server")
    triage_post(slack, ref)
    press(sam, "incident.severity.P1", ref)
    slack.wait_for(lambda c: c.method == "conversations.create")
    settle(bot)
    run_due_work(bot.runtime.ctx)  # copies the channel's id: files go to conversations by id
    [channel] = slack.channels()

    slack.lose_answers("files.completeUploadExternal", "500")
    _, reply = aldo.command("/incident", f"report {ref}", trigger_id="1763888400.7.report")
    assert f"Post-incident report {ref}, stored as a record" in aldo.reply_text(reply)
    assert eventually(lambda: retried_until_sent(bot, clock))
    [(_, data)] = report_records(bot)
    name = f"post-incident-report-{ref}-2026-11-23.html"
    for conversation in (REPORTS, channel["id"]):
        [(info, content, comment)] = slack.shared_files(conversation)
        assert info["name"] == name and data["file"] == name
        assert sha(content) == data["html_sha256"]
        assert comment == f"Post-incident report {ref}: the whole report (HTML, prints on A4)."
    assert "files.info" in upload_calls(slack)  # the lost answer was looked up, not shared again


# -- the console ---------------------------------------------------------------------------------------


def test_the_console_saves_each_shared_report_and_prints_where(settings, clock, tmp_path):
    """As ``isms-bot chat`` runs it: every file is saved under ``isms-bot-files`` and its place printed."""
    console, output = scripted(["/isms soa", "/quit"])
    folder = tmp_path / "isms-bot-files"
    settings = settings.model_copy(update={"config_path": review_org(tmp_path)})
    runtime = build_runtime(settings, console.deliver, clock=clock, extra_senders={UPLOAD_KIND: console.files(folder)})
    world = World(runtime, Chat(), clock)  # the same moves as the other tests, shown by the console
    try:
        console.attach(runtime, "alice@example.org")
        console.run()
        start_audit(world)  # its first tick also schedules the planned review: the invitations
        world.fill("aldo", "audit.finding", NONCONFORMITY, "")
        world.command("aldo", "audit report AUD-2026-0001")
        world.at(berlin(2027, 3, 8, 10, 0))  # the review's input pack
    finally:
        runtime.engine.dispose()
    text = "\n".join(output)
    saved = sorted(path.name.split("-", 1)[1] for path in folder.iterdir())
    assert saved == [
        *["audit-report-AUD-2026-0001-2026-12-07.html"] * 2,
        *["management-review-REV-2027-01-2027-03-15.ics"] * 4,
        *["management-review-pack-REV-2027-01-2027-03-08.html"] * 4,
        "statement-of-applicability-SoA-2026-11-23.xlsx",
    ]
    for shown in (
        "[file to Alice Adams] Statement of Applicability: ",
        "[file to #isms_reports] Internal audit report AUD-2026-0001: ",
        "[file to Aldo Auer] Internal audit report AUD-2026-0001: ",
        "[file to Mia Moreau] Management review (REV-2027-01): calendar invitation: ",
        "[file to Olga Ortiz] Input pack of REV-2027-01: ",
    ):
        assert shown in text, shown
    [pack] = world.records("pack-assembled", "GOV")
    packs = [path.read_bytes() for path in folder.glob("*-management-review-pack-*")]
    assert {sha(content) for content in packs} == {pack[3]["html_sha256"]}
    assert "UID:rev-2027-01@isms-bot" in next(folder.glob("*.ics")).read_text(encoding="utf-8")

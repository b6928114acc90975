"""``/isms bundle [PERIOD]`` in Slack, through the real HTTP server and the Slack double: an auditor gets
the evidence bundle as a zip in their DMs that ``sha256sum -c`` checks; asking is a record; people who
may not, periods that cannot be read and bundles too large for chat get a clear answer and no file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from bot.server import BotServer
from storage import records
from tests.slack_client import SlackUser
from tests.support import eventually
from tests.test_report_upload import reports_bot  # noqa: F401  (the fixture: the reporting org, seeded)
from tests.world import Chat, World


def rec_records(bot: BotServer, action: str) -> list[tuple[str, str, dict[str, object]]]:
    world = World(bot.runtime, Chat(), bot.runtime.ctx.clock)  # type: ignore[arg-type]
    return [(who, subject, data) for who, _, subject, data in world.records(action=action)]


def bundle_uploads(slack) -> list[str]:  # type: ignore[no-untyped-def]
    """Bundles uploaded to Slack (the scheduler may share a monthly report meanwhile)."""
    names = [call.args["filename"] for call in slack.calls_to("files.getUploadURLExternal")]
    return [name for name in names if name.startswith("isms-bundle")]


def test_an_auditor_gets_the_bundle_in_a_dm_and_it_checks_with_sha256sum(reports_bot, slack, tmp_path):  # noqa: F811
    erin = SlackUser(reports_bot.url, slack, "U0ERIN")
    _, reported = erin.command("/incident", "Phishing mail with a link")
    assert "Your report is INC-2026-" in erin.reply_text(reported)
    aldo = SlackUser(reports_bot.url, slack, "U0ALDO")
    status, response_url = aldo.command("/isms", "bundle 2026")
    assert status == 200
    reply = aldo.reply_text(response_url)
    assert reply.startswith("Evidence bundle of 2026: ") and "isms-bundle-2026.zip (SHA-256 " in reply
    shared = eventually(lambda: slack.shared_files("U0ALDO"))
    assert len(shared) == 1
    info, content, comment = shared[0]
    digest = hashlib.sha256(content).hexdigest()
    assert info["name"] == "isms-bundle-2026.zip" and digest in reply and digest in comment
    assert "run `sha256sum -c SHA256SUMS`" in comment
    with zipfile.ZipFile(io.BytesIO(content)) as bundle:
        bundle.extractall(tmp_path)
        names = set(bundle.namelist())
    assert {"records.jsonl", "HEAD", "README.txt", "registers/incidents.csv", "registers/changes.csv"} <= names
    lines = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [(r["process"], r["action"]) for r in lines if r.get("actor") == "erin"][:1] == [("INC", "reported")]
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.count(": OK") == len(names) - 1, checked.stdout
    [asked] = rec_records(reports_bot, "bundle-requested")
    assert asked[0] == "aldo" and asked[1] == "2026"
    assert asked[2]["sha256"] == digest and asked[2]["to"] == "aldo" and int(str(asked[2]["records"])) > 0
    assert ("aldo", "2026", {"what": "/isms bundle 2026"}) in rec_records(reports_bot, "auditor-access")


def test_the_isms_manager_gets_this_years_bundle_without_a_period(reports_bot, slack):  # noqa: F811
    alice = SlackUser(reports_bot.url, slack, "U0ALICE")
    _, response_url = alice.command("/isms", "bundle")
    assert alice.reply_text(response_url).startswith("Evidence bundle of 2026: ")
    shared = eventually(lambda: slack.shared_files("U0ALICE"))
    assert [info["name"] for info, _, _ in shared] == ["isms-bundle-2026.zip"]
    assert rec_records(reports_bot, "auditor-access") == []  # the ISMS manager's reading is not an audit


def test_an_employee_is_told_who_the_bundle_is_for_and_gets_no_file(reports_bot, slack):  # noqa: F811
    erin = SlackUser(reports_bot.url, slack, "U0ERIN")
    _, response_url = erin.command("/isms", "bundle 2026")
    reply = erin.reply_text(response_url)
    assert "Sorry, the evidence bundle is for auditor or ISMS manager only." in reply
    assert bundle_uploads(slack) == []
    assert [(who, data["attempted"]) for who, _, data in rec_records(reports_bot, "access-denied")] == [
        ("erin", "the evidence bundle")
    ]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("bundle last year", "I cannot read 'last year' as a period."),
        ("bundle 2026-13", "I cannot read '2026-13' as a period."),
        ("bundle 2027", "2027 has not begun yet."),
    ],
)
def test_a_period_that_cannot_be_used_gets_examples_and_no_file(reports_bot, slack, text, answer):  # noqa: F811
    aldo = SlackUser(reports_bot.url, slack, "U0ALDO")
    _, response_url = aldo.command("/isms", text)
    reply = aldo.reply_text(response_url)
    assert answer in reply and "/isms bundle 2026, /isms bundle 2026-Q4" in reply
    assert bundle_uploads(slack) == []
    assert rec_records(reports_bot, "bundle-requested") == []


def noise() -> str:
    return os.urandom(1536).hex()  # 3 KB that zip to about half


def test_a_bundle_too_large_for_chat_names_the_command_line_and_shares_nothing(reports_bot, slack):  # noqa: F811
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with reports_bot.runtime.ctx.sessions.begin() as session:  # 4,000 records of 3 KB of noise
        records.append(
            session,
            [
                records.Entry(at + timedelta(seconds=n), "bot", "REC", "note", "test", str(n), {"x": noise()})
                for n in range(4000)
            ],
        )
    aldo = SlackUser(reports_bot.url, slack, "U0ALDO")
    _, response_url = aldo.command("/isms", "bundle 2026-11")
    reply = aldo.reply_text(response_url)
    assert "The bundle of 2026-11 has " in reply and "more than the 5,242,880 the bot shares in chat" in reply
    assert "`isms-bot audit bundle --period 2026-11 --out bundle.zip`" in reply
    assert bundle_uploads(slack) == []
    assert rec_records(reports_bot, "bundle-requested") == []

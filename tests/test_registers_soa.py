"""The Statement of Applicability against a small known register: all 93 Annex A controls in order
plus the organisation's own, the latest accepted evidence of the linked activities with its date and
SHA-256, gaps, and the files (CSV, XLSX, HTML opened in headless Chromium) and ``/isms soa``."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from typer.testing import CliRunner

from bot.cli import app
from storage.models import EvidenceFile, EvidenceRequest, EvidenceSubmission
from tests.browser import dom_of
from tests.test_reports import chromium
from tests.world import World, make_world, text_of
from workflows.registers import soa
from workflows.registers.flows import import_file
from workflows.registers.kinds import KINDS

EXAMPLES = Path(__file__).parent.parent / "config" / "examples"
T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SHA_OLD, SHA_NEW = "a" * 64, "b" * 64


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    """The example control register, and evidence rows as the evidence workflow leaves them."""
    world = make_world(settings, clock)
    import_file(world.ctx, KINDS["control"], EXAMPLES / "controls.csv")
    requests = [
        (1, "INC/response-exercise", T - timedelta(days=200), "accepted", SHA_OLD),
        (2, "INC/response-exercise", T, "accepted", SHA_NEW),
        (3, "INC/response-exercise", T + timedelta(days=1), "rejected", "c" * 64),  # rejected: never shown
        (4, "POL/review-policy", T - timedelta(days=10), "accepted", None),  # a text answer: no file hash
    ]
    with world.ctx.sessions.begin() as session:
        session.execute(
            insert(EvidenceRequest),
            [
                {
                    "id": i,
                    "activity_key": key,
                    "period": f"P{i}",
                    "process": key.split("/")[0],
                    "title": key,
                    "evidence_kind": "file",
                    "period_start": date(2026, 1, 1),
                    "period_end": date(2026, 12, 31),
                    "owner_id": "sam",
                    "status": "accepted" if decision == "accepted" else "submitted",
                    "due_at": decided,
                    "created_at": decided - timedelta(days=30),
                    "round": 0,
                    "step": 0,
                    "delegations": 0,
                }
                for i, key, decided, decision, _ in requests
            ],
        )
        session.execute(
            insert(EvidenceSubmission),
            [
                {
                    "id": i,
                    "request_id": i,
                    "round": 0,
                    "submitted_by": "sam",
                    "submitted_at": decided - timedelta(hours=2),
                    "not_applicable": False,
                    "text": "done",
                    "decision": decision,
                    "decided_by": "alice",
                    "decided_at": decided,
                }
                for i, _, decided, decision, _ in requests
            ],
        )
        session.execute(
            insert(EvidenceFile),
            [
                {"submission_id": i, "slack_file_id": f"F{i}", "name": "exercise.pdf", "sha256": sha}
                for i, _, _, _, sha in requests
                if sha
            ],
        )
    yield world
    world.close()


def soa_rows(world: World) -> dict[str, dict[str, str]]:
    with world.ctx.read() as session:
        table = soa.rows(world.ctx, session)
    assert len(table) == 94
    return {row["control"]: row for row in table}


def test_every_annex_a_control_in_order_then_the_organisations_own(world):
    with world.ctx.read() as session:
        table = soa.rows(world.ctx, session)
    ids = [row["control"] for row in table]
    assert ids[0] == "A.5.1" and ids[36] == "A.5.37" and ids[37] == "A.6.1" and ids[92] == "A.8.34"
    assert ids[93] == "ORG-1" and len(ids) == 94
    assert sum(1 for row in table if row["source"] == "Annex A") == 93


def test_each_row_against_the_known_register(world):
    rows = soa_rows(world)
    assert rows["A.5.24"] == {
        "control": "A.5.24",
        "name": "Incident handling planned and prepared",
        "source": "Annex A",
        "applicable": "yes",
        "justification": "Incidents are handled through the bot",
        "implementation": "implemented",
        "owner": "Sam Shah",
        "activities": "INC/response-exercise",
        "evidence": "EV-2",  # the latest accepted one; the later rejected answer does not count
        "evidence_date": "2026-11-01",
        "sha256": SHA_NEW,
        "gap": "",
    }
    assert (rows["A.5.1"]["evidence"], rows["A.5.1"]["sha256"]) == ("EV-4", "")
    assert rows["A.5.23"]["gap"] == "applicable, no evidence activity" and rows["A.5.23"]["implementation"] == "partial"
    assert (rows["A.7.4"]["applicable"], rows["A.7.4"]["gap"]) == ("no", "")
    assert rows["A.7.4"]["justification"].startswith("No premises of our own")
    assert (rows["A.8.5"]["applicable"], rows["A.8.5"]["owner"]) == ("not assessed", "")
    assert rows["ORG-1"]["source"] == "own" and rows["ORG-1"]["gap"] == "applicable, no evidence activity"


def test_the_cli_writes_csv_xlsx_and_html(world, db_url, tmp_path):
    runner = CliRunner()
    for fmt in ("csv", "xlsx", "html"):
        out = tmp_path / f"soa.{fmt}"
        result = runner.invoke(
            app, ["report", "soa", "--format", fmt, "--out", str(out)], env={"ISMS_DATABASE_URL": db_url}
        )
        assert result.exit_code == 0, result.output
        assert "Statement of Applicability (94 controls)" in result.output
    table = list(csv.DictReader(io.StringIO((tmp_path / "soa.csv").read_text(encoding="utf-8"))))
    assert len(table) == 94 and table[23]["control"] == "A.5.24" and table[23]["sha256"] == SHA_NEW
    sheet = load_workbook(tmp_path / "soa.xlsx").worksheets[0]
    assert sheet.max_row == 95 and sheet["A25"].value == "A.5.24" and sheet["K25"].value == SHA_NEW
    assert (sheet["J1"].value, sheet["K1"].value) == ("evidence_date", "sha256")  # the same names as the CSV
    html = (tmp_path / "soa.html").read_text(encoding="utf-8")
    assert "Gaps (applicable, no evidence activity): 2" in html and "<script" not in html.lower()
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", html)
    assert header is not None and re.findall(r"<th>(.*?)</th>", header[1]) == [
        "Control",
        "Name",
        "Source",
        "Applicable",
        "Justification",
        "Implementation",
        "Owner",
        "Activities",
        "Evidence",
        "Evidence date",
        "SHA-256",
        "Gap",
    ]
    bad = runner.invoke(
        app, ["report", "soa", "--format", "md", "--out", str(tmp_path / "x")], env={"ISMS_DATABASE_URL": db_url}
    )
    assert bad.exit_code == 2 and "xlsx, csv or html" in bad.output


def test_the_html_renders_in_headless_chromium(world, tmp_path):
    binary = chromium()
    with world.ctx.read() as session:
        page = tmp_path / "soa.html"
        page.write_text(soa.as_html(world.ctx, soa.rows(world.ctx, session), world.clock()), encoding="utf-8")
    dom = dom_of(binary, page)
    assert dom.count("<tr>") == 95  # heading and 94 controls
    assert SHA_NEW in dom and "Incident handling planned and prepared" in dom


def test_isms_soa_in_chat_shows_counts_and_gaps_to_overseers_only(world):
    outcome = world.command("alice", "soa")
    assert outcome.reply is not None
    answer = text_of(outcome.reply)
    assert answer.startswith("Statement of Applicability")
    assert "Annex A controls: 93; the organisation's own: 1" in answer
    assert "Applicable: 4; not applicable: 1; not assessed: 89" in answer
    assert "Gap: A.5.23 · Security of the cloud services used · Olga Ortiz" in answer
    assert "Gap: ORG-1 · Quarterly phishing simulation · Erin Evans" in answer
    refused = world.command("erin", "soa")
    assert refused.reply is not None and text_of(refused.reply).startswith(
        "Sorry, the Statement of Applicability is for"
    )

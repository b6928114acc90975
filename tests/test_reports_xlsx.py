"""Reports as spreadsheets: ``isms-bot report ... --format xlsx`` opened with openpyxl, as a person
would open it in a spreadsheet program: one sheet per table, a styled header, fitted widths, times as
dates in the organisation's timezone, counts as numbers, and user text that never becomes a formula."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Incident
from tests import status_data
from tests.world import World


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = status_data.reporting_world(settings, clock, tmp_path)
    yield world
    world.close()


def export(db_url: str, tmp_path: Path, kind: str, period: str = "2026-Q4") -> openpyxl.Workbook:
    out = tmp_path / f"{kind}.xlsx"
    result = CliRunner().invoke(
        app,
        ["report", kind, "--period", period, "--format", "xlsx", "--out", str(out)],
        env={"ISMS_DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    assert "(xlsx, SHA-256 " in result.output
    return openpyxl.load_workbook(out)


def rows(sheet) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_incident_register_as_a_spreadsheet(world, db_url, tmp_path):
    status_data.seed(world)
    with world.ctx.sessions.begin() as session:  # a reporter's summary that a spreadsheet would compute
        session.execute(
            update(Incident).where(Incident.ref == "INC-2026-0102").values(summary='=HYPERLINK("http://x","y")')
        )
    book = export(db_url, tmp_path, "incidents")
    assert book.sheetnames == ["Incident register"]
    sheet = book["Incident register"]
    table = rows(sheet)
    header = table[0]
    assert header[:5] == ["ref", "status", "severity", "category", "reported_at (Europe/Berlin)"]
    assert all(cell.font.b for cell in sheet[1]) and sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:K1"
    assert [row[0] for row in table[1:]] == [f"INC-2026-{100 + n:04d}" for n in range(1, 9)]
    first = dict(zip(header, table[1], strict=True))
    # 2026-11-02 10:00 UTC is 11:00 in Berlin; a date cell, shown to the minute
    assert first["reported_at (Europe/Berlin)"] == datetime(2026, 11, 2, 11, 0)
    assert sheet["E2"].is_date and sheet["E2"].number_format == "yyyy-mm-dd hh:mm"
    assert first["closed_at (Europe/Berlin)"] == datetime(2026, 11, 2, 11, 0) + timedelta(hours=10)
    assert first["summary"] == "Seeded incident 1 <b>bold</b> & co"
    summary = sheet.cell(row=3, column=header.index("summary") + 1)
    assert summary.value == '=HYPERLINK("http://x","y")' and summary.data_type == "s"
    widths = {letter: sheet.column_dimensions[letter].width for letter in "AEK"}
    assert widths["A"] == len("INC-2026-0101") + 2
    assert widths["E"] == len("reported_at (Europe/Berlin)") + 2
    assert widths["K"] == len("Seeded incident 1 <b>bold</b> & co") + 2


def test_evidence_register_has_hashes_and_numbers(world, db_url, tmp_path):
    status_data.seed(world)
    sheet = export(db_url, tmp_path, "evidence")["Evidence register"]
    table = rows(sheet)
    header = table[0]
    assert "file_sha256" in header and "due_at (Europe/Berlin)" in header
    by_ref = {row[0]: dict(zip(header, row, strict=True)) for row in table[1:]}
    assert set(by_ref) == {"EV-1", "EV-2", "EV-3", "EV-4"}
    assert by_ref["EV-1"]["round"] == 0 and isinstance(by_ref["EV-1"]["round"], int)
    assert isinstance(by_ref["EV-1"]["due_at (Europe/Berlin)"], datetime)


def test_monthly_report_has_a_sheet_per_table(world, db_url, tmp_path):
    status_data.seed(world)
    book = export(db_url, tmp_path, "monthly")
    assert book.sheetnames == ["Metrics", "Processes"]
    metrics = {row[0]: row for row in rows(book["Metrics"])[1:]}
    assert metrics["inc.resolve.p90.P2"][3] == 40.0  # value, as a number
    assert metrics["inc.resolve.p90.P2"][5] == 4  # count
    processes = rows(book["Processes"])
    assert processes[0] == [
        "process",
        "name",
        "owner",
        "due",
        "done",
        "overdue",
        "answered",
        "on_time",
        "open",
        "oldest_due_at (Europe/Berlin)",
    ]
    assert len(processes) == 1 + 17
    sup = next(row for row in processes if row[0] == "SUP")
    assert sup[3:6] == [1, 0, 1]  # one due, none done, one overdue


def test_an_empty_store_gives_header_only_sheets(db_url, tmp_path, settings, clock):
    world = status_data.reporting_world(settings, clock, tmp_path)
    world.close()
    sheet = export(db_url, tmp_path, "changes", "2026-11")["Change register"]
    assert rows(sheet) == [[*rows(sheet)[0]]] and rows(sheet)[0][0] == "ref"


def test_the_console_asks_for_a_report_and_saves_the_shared_file(settings, clock, tmp_path):
    from bot.console import Console
    from bot.runtime import build_runtime
    from workflows.outreach.files import UPLOAD_KIND

    feed = iter(["/isms report monthly 2026-13", "/isms report monthly 2026-10"])
    output: list[str] = []

    def ask(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    console = Console(ask=ask, say=output.append)
    folder = tmp_path / "files"
    runtime = build_runtime(settings, console.deliver, clock=clock, extra_senders={UPLOAD_KIND: console.files(folder)})
    try:
        console.attach(runtime, "mia@example.org")
        console.run()
        runtime.dispatcher.drain()
    finally:
        runtime.engine.dispose()
    text = "\n".join(output)
    assert "I cannot read '2026-13' as a month such as 2026-11." in text
    assert "Monthly ISMS report, 2026-10" in text and "is on its way to your direct messages" in text
    saved = list(folder.iterdir())
    assert [path.name.split("-", 1)[1] for path in saved] == ["isms-monthly-report-2026-10.html"]
    assert f"[file to Mia Moreau] Monthly ISMS report, 2026-10: {saved[0]}" in text
    assert saved[0].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

"""Reports: HTML (one self-contained file, charts as inline SVG) opened in headless Chromium with no
console errors and every chart present with data; Markdown and CSV registers; roles and escaping."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests import status_data
from tests.world import World
from workflows.communication import reports
from workflows.performance import periods

CHARTS = {"incidents-per-month", "time-to-resolve", "evidence-on-time", "change-lead-time"}


@pytest.fixture
def world(settings, clock, tmp_path) -> Iterator[World]:
    world = status_data.reporting_world(settings, clock, tmp_path)
    yield world
    world.close()


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    pytest.fail("chromium is not installed: apt-get install chromium (.ci/run installs it when missing)")


def html_report(world: World, kind: reports.Kind = "monthly") -> str:
    now = world.clock()
    period = periods.parse("2026-Q4", world.ctx.org.zone, now)
    return reports.render(world.ctx, reports.build(world.ctx, kind, period, now), "html")


def test_html_report_is_self_contained_and_escaped(world):
    status_data.seed(world)
    html = html_report(world, "incidents")
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@page { size: A4" in html
    assert "Seeded incident 1 &lt;b&gt;bold&lt;/b&gt; &amp; co" in html and "<b>bold</b>" not in html
    assert html.count("<svg") == 2 and "INC-2026-0101" in html


def test_html_report_renders_in_headless_chromium(world, tmp_path):
    binary = chromium()
    status_data.seed(world)
    page = tmp_path / "report.html"
    page.write_text(html_report(world), encoding="utf-8")
    common = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(
        [binary, *common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    charts = dict(re.findall(r'data-chart="([^"]+)" data-points="(\d+)"', dom.stdout))
    assert set(charts) == CHARTS
    assert all(int(points) > 0 for points in charts.values()), charts
    shot = tmp_path / "report.png"
    subprocess.run(
        [binary, *common, "--window-size=900,1800", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
    if os.environ.get("ISMS_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["ISMS_KEEP_SCREENSHOT"])


def test_empty_store_still_renders_every_chart(world):
    html = html_report(world, "status")
    assert set(re.findall(r'data-chart="([^"]+)"', html)) == CHARTS
    assert "No data in this period" in html


def test_tables_show_readable_headers_in_html_and_markdown_only(world):
    """People read "Due at" and "File SHA-256"; the CSV keeps ``due_at`` and ``file_sha256``."""
    status_data.seed(world)
    now = world.clock()
    report = reports.build(world.ctx, "evidence", periods.parse("2026-Q4", world.ctx.org.zone, now), now)
    html, markdown = reports.render(world.ctx, report, "html"), reports.render(world.ctx, report, "md")
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", html)
    assert header is not None and re.findall(r"<th>(.*?)</th>", header[1])[-4:] == [
        "Decided by",
        "File",
        "File size",
        "File SHA-256",
    ]
    assert "file_sha256" not in html
    assert "| Ref | Process | Activity | Title | Period | Owner | Status | Due at |" in markdown


def test_cli_writes_md_html_and_csv_registers(world, db_url, tmp_path):
    status_data.seed(world)
    runner = CliRunner()
    env = {"ISMS_DATABASE_URL": db_url}
    for kind, fmt in (
        ("status", "md"),
        ("changes", "html"),
        ("incidents", "csv"),
        ("evidence", "csv"),
        ("monthly", "csv"),
    ):
        out = tmp_path / f"{kind}.{fmt}"
        result = runner.invoke(
            app, ["report", kind, "--period", "2026-Q4", "--format", fmt, "--out", str(out)], env=env
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "status.md").read_text().startswith("# ISMS status, 2026-Q4")
    assert "<th>Tracker key</th>" in (tmp_path / "changes.html").read_text()
    incidents = list(csv.DictReader(io.StringIO((tmp_path / "incidents.csv").read_text())))
    assert [row["ref"] for row in incidents] == [f"INC-2026-{100 + n:04d}" for n in range(1, 9)]
    evidence = list(csv.DictReader(io.StringIO((tmp_path / "evidence.csv").read_text())))
    assert {row["ref"] for row in evidence} == {"EV-1", "EV-2", "EV-3", "EV-4"} and "file_sha256" in evidence[0]
    metrics = {row["metric"]: row for row in csv.DictReader(io.StringIO((tmp_path / "monthly.csv").read_text()))}
    assert metrics["inc.resolve.p90.P2"]["value"] == "40.000"
    bad = runner.invoke(app, ["report", "status", "--period", "Q9", "--out", str(tmp_path / "x")], env=env)
    assert bad.exit_code == 2 and "cannot read 'Q9'" in bad.output

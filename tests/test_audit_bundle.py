"""For auditors: filtered records exports, and the evidence bundle that standard tools verify
(``sha256sum -c``) and that fails after one byte changes."""

from __future__ import annotations

import json
import subprocess
import zipfile

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests import status_data
from tests.world import make_world


@pytest.fixture
def seeded(settings, clock, db_url):
    world = make_world(settings, clock)
    world.command("erin", "Phishing mail with a link", name="/incident")
    world.command("aldo", "status")
    status_data.seed(world)
    world.close()
    return {"ISMS_DATABASE_URL": db_url}


def test_records_export_filters(seeded, tmp_path):
    runner = CliRunner()
    out = tmp_path / "inc.jsonl"
    result = runner.invoke(
        app,
        ["records", "export", "--out", str(out), "--process", "inc", "--since", "2026-01-01", "--until", "2026-12-31"],
        env=seeded,
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines() if '"type": "seal"' not in line]
    assert rows and {row["process"] for row in rows} == {"INC"}
    none = runner.invoke(app, ["records", "export", "--out", str(out), "--until", "2025-12-31"], env=seeded)
    assert none.exit_code == 0 and none.stdout.startswith("0 records")  # logs go to stderr
    bad = runner.invoke(app, ["records", "export", "--out", str(out), "--process", "x'; drop"], env=seeded)
    assert bad.exit_code == 2


def test_bundle_verifies_with_sha256sum_and_fails_after_one_byte(seeded, tmp_path):
    zipped = tmp_path / "bundle.zip"
    result = CliRunner().invoke(app, ["audit", "bundle", "--period", "2026", "--out", str(zipped)], env=seeded)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(zipped) as bundle:
        names = set(bundle.namelist())
        bundle.extractall(folder)
    assert {"records.jsonl", "HEAD", "README.txt", "SHA256SUMS", "registers/incidents.csv"} <= names
    assert {"registers/evidence.csv", "registers/changes.csv", "evidence/EV-1/answer-round-0.txt"} <= names
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert any(r.get("action") == "auditor-access" for r in records)
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.count(": OK") == len(names) - 1, ok.stdout
    answer = folder / "evidence" / "EV-1" / "answer-round-0.txt"
    data = bytearray(answer.read_bytes())
    data[-2] ^= 1
    answer.write_bytes(bytes(data))
    broken = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=False)
    assert broken.returncode == 1 and "evidence/EV-1/answer-round-0.txt: FAILED" in broken.stdout

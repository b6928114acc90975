"""The CLI (verify with anchors, export) and the standalone verifier of docs/records.md."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, update
from typer.testing import CliRunner

from bot.cli import app
from storage import records
from storage.models import Record
from tests.test_records import KEY, PUBLIC, T0, current_head, fill

VERIFIER = Path(__file__).resolve().parents[1] / "tools" / "verify_records.py"


def standalone(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(VERIFIER), *args], capture_output=True, text=True, check=False)


def test_cli_verify_says_what_it_cannot_detect_and_reports_a_broken_chain(sessions, db_url):
    fill(sessions, 4)
    runner = CliRunner()
    env = {"ISMS_DATABASE_URL": db_url}
    ok = runner.invoke(app, ["records", "verify"], env=env)
    assert ok.exit_code == 0 and "OK: 4 records" in ok.output, ok.output
    assert "Cannot detect: removal of records at the tail, or a rewrite" in ok.output
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 2).values(data="{}"))
    broken = runner.invoke(app, ["records", "verify"], env=env)
    assert broken.exit_code == 1 and "BROKEN at record 2" in broken.output


def test_cli_verify_against_published_heads_and_seals(sessions, db_url, tmp_path):
    runner = CliRunner()
    heads = tmp_path / "heads.txt"
    env = {"ISMS_DATABASE_URL": db_url, "ISMS_RECORDS_KEY": KEY, "ISMS_RECORDS_HEAD_FILE": str(heads)}
    fill(sessions, 5)
    published = runner.invoke(app, ["records", "head"], env=env)
    assert published.exit_code == 0 and published.stdout.strip() == str(current_head(sessions))
    ok = runner.invoke(app, ["records", "verify", "--expect-from", str(heads)], env=env)
    assert ok.exit_code == 0 and "1 seal valid" in ok.output and "1 published head checked" in ok.output, ok.output
    assert "Cannot detect" not in ok.output
    with sessions.begin() as session:
        session.execute(delete(Record).where(Record.seq > 3))
    for options in (["--expect-head", published.stdout.strip()], ["--expect-from", str(heads)]):
        truncated = runner.invoke(app, ["records", "verify", *options], env={"ISMS_DATABASE_URL": db_url})
        assert truncated.exit_code == 1 and "BROKEN at record 5" in truncated.output and "truncated" in truncated.output
    by_key = runner.invoke(app, ["records", "verify", "--public-key", PUBLIC], env={"ISMS_DATABASE_URL": db_url})
    assert by_key.exit_code == 1 and "seal" in by_key.output


def test_cli_refuses_a_malformed_key(db_url):
    result = CliRunner().invoke(app, ["records", "verify"], env={"ISMS_DATABASE_URL": db_url, "ISMS_RECORDS_KEY": "x"})
    assert result.exit_code == 2 and "ISMS_RECORDS_KEY" in result.output


def test_export_verifies_standalone_and_fails_after_one_byte_changes(sessions, db_url, tmp_path):
    fill(sessions, 4, retain=timedelta(days=1), anchors=records.Anchors(key=KEY, every=2))
    with sessions.begin() as session:
        records.erase_expired(session, T0 + timedelta(days=2))
    fill(sessions, 3, anchors=records.Anchors(key=KEY, every=2), now=T0 + timedelta(days=2))
    out = tmp_path / "records.jsonl"
    runner = CliRunner()
    env = {"ISMS_DATABASE_URL": db_url, "ISMS_RECORDS_KEY": KEY}
    exported = runner.invoke(app, ["records", "export", "--out", str(out)], env=env)
    assert exported.exit_code == 0 and "8 records written" in exported.output, exported.output
    lines = out.read_text().splitlines()
    assert [json.loads(line).get("type") for line in lines].count("seal") >= 3
    head = current_head(sessions)
    for args in ([], ["--public-key", PUBLIC], ["--key", KEY], ["--expect-head", str(head)]):
        result = standalone(str(out), *args)
        assert result.returncode == 0 and "OK: 8 records" in result.stdout, (args, result.stdout, result.stderr)
    original = out.read_bytes()
    for offset in (
        original.rindex(b"report 2"),
        original.index(b'"actor": "alice"') + 11,
        original.rindex(b'"signature": "') + 20,
    ):
        changed = bytearray(original)
        changed[offset + 3] = ord("X") if changed[offset + 3] != ord("X") else ord("Y")
        out.write_bytes(bytes(changed))
        result = standalone(str(out), "--public-key", PUBLIC)
        assert result.returncode == 1 and "BROKEN" in result.stdout, (offset, result.stdout)
    out.write_bytes(b"".join(line + b"\n" for line in original.splitlines() if b'"seq": 8,' not in line))
    truncated = standalone(str(out), "--expect-head", str(head))
    assert truncated.returncode == 1 and "missing" in truncated.stdout
    csv_out = tmp_path / "records.csv"
    assert runner.invoke(app, ["records", "export", "--out", str(csv_out), "--format", "csv"], env=env).exit_code == 0
    assert csv_out.read_text().splitlines()[0].startswith("seq,at,actor,process")


def test_standalone_ed25519_matches_cryptography():
    sys.path.insert(0, str(VERIFIER.parent))
    try:
        import verify_records
    finally:
        sys.path.pop(0)
    assert verify_records.public_key_of(bytes.fromhex(KEY)).hex() == PUBLIC
    signature = bytes.fromhex(records.sign(KEY, 7, "ab" * 32, "2026-11-23T09:00:00.000000+00:00"))
    message = records.seal_message(7, "ab" * 32, "2026-11-23T09:00:00.000000+00:00")
    assert verify_records.ed25519_valid(bytes.fromhex(PUBLIC), message, signature)
    assert not verify_records.ed25519_valid(bytes.fromhex(PUBLIC), message + b"x", signature)

"""The records log: verify detects each kind of tampering; retention erases data, not the chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from bot.cli import app
from storage import records
from storage.models import Record

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def fill(sessions, count: int = 5, retain: timedelta | None = None) -> None:
    with sessions.begin() as session:
        records.append(
            session,
            [
                records.Entry(
                    T0 + timedelta(minutes=i),
                    "alice",
                    "INC",
                    "reported",
                    "incident",
                    f"INC-2026-{i:04d}",
                    {"text": f"report {i}", "n": i},
                    T0 + retain if retain else None,
                )
                for i in range(1, count + 1)
            ],
        )


def check(sessions) -> records.Verification:
    with sessions() as session:
        return records.verify(session)


def test_intact_chain_verifies_with_its_count(sessions):
    fill(sessions, 5)
    fill(sessions, 2)  # a second transaction continues the same chain
    result = check(sessions)
    assert result.ok and result.count == 7


def test_changed_data_is_named(sessions):
    fill(sessions)
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 3).values(data=json.dumps({"text": "harmless"})))
    result = check(sessions)
    assert (result.ok, result.broken_seq, result.count) == (False, 3, 2)
    assert "changed" in result.reason


def test_changed_metadata_is_named(sessions):
    fill(sessions)
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 4).values(actor="mallory"))
    assert check(sessions).broken_seq == 4


def test_deleted_record_is_named(sessions):
    fill(sessions)
    with sessions.begin() as session:
        session.execute(delete(Record).where(Record.seq == 2))
    result = check(sessions)
    assert result.broken_seq == 2 and "missing" in result.reason


def test_swapped_records_are_detected(sessions):
    fill(sessions)
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 2).values(seq=-2))
        session.execute(update(Record).where(Record.seq == 3).values(seq=2))
        session.execute(update(Record).where(Record.seq == -2).values(seq=3))
    assert check(sessions).broken_seq == 2


def test_inserted_record_is_detected(sessions):
    fill(sessions)
    with sessions.begin() as session:
        later = session.scalars(select(Record.seq).where(Record.seq > 2).order_by(Record.seq.desc())).all()
        for seq in later:  # make room after record 2, then forge a record 3 that follows record 2
            session.execute(update(Record).where(Record.seq == seq).values(seq=seq + 1))
        second = session.execute(select(Record.hash).where(Record.seq == 2)).one()
        data = records.canonical_json({"text": "forged"})
        data_hash = records.sha256(data)
        at = T0 + timedelta(minutes=2, seconds=30)
        own = records.record_hash(
            3, at, "mallory", "INC", "closed", "incident", "INC-2026-0002", data_hash, second.hash, None
        )
        session.execute(
            insert(Record).values(
                seq=3,
                at=at,
                actor="mallory",
                process="INC",
                action="closed",
                subject_type="incident",
                subject_id="INC-2026-0002",
                data=data,
                data_hash=data_hash,
                prev_hash=second.hash,
                hash=own,
            )
        )
    result = check(sessions)
    assert result.broken_seq == 4 and not result.ok


def test_retention_erases_data_and_the_chain_still_verifies(sessions):
    fill(sessions, 3, retain=timedelta(days=30))
    fill(sessions, 2)  # no retention end: kept
    with sessions.begin() as session:
        assert records.erase_expired(session, T0 + timedelta(days=29)) == 0
        assert records.erase_expired(session, T0 + timedelta(days=31)) == 3
    with sessions() as session:
        kept = session.scalars(select(Record.data).order_by(Record.seq)).all()
    assert kept[:3] == [None, None, None] and all(kept[3:])
    assert check(sessions).ok


def test_erasing_before_retention_ends_is_tampering(sessions):
    fill(sessions, 3, retain=timedelta(days=30))
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 2).values(data=None, erased_at=T0 + timedelta(days=1)))
    result = check(sessions)
    assert result.broken_seq == 2 and "retention" in result.reason


def test_cli_verify_and_export(sessions, db_url, tmp_path):
    fill(sessions, 4)
    runner = CliRunner()
    env = {"ISMS_DATABASE_URL": db_url}
    ok = runner.invoke(app, ["records", "verify"], env=env)
    assert ok.exit_code == 0 and "OK: 4 records" in ok.output
    out = tmp_path / "records.jsonl"
    exported = runner.invoke(app, ["records", "export", "--out", str(out)], env=env)
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    # an auditor can recompute every hash from the export alone
    prev = records.GENESIS
    for line in lines:
        assert records.sha256(line["data"]) == line["data_hash"] and line["prev_hash"] == prev
        assert (
            records.record_hash(
                line["seq"],
                datetime.fromisoformat(line["at"]),
                line["actor"],
                line["process"],
                line["action"],
                line["subject_type"],
                line["subject_id"],
                line["data_hash"],
                line["prev_hash"],
                None,
            )
            == line["hash"]
        )
        prev = line["hash"]
    csv_out = tmp_path / "records.csv"
    assert runner.invoke(app, ["records", "export", "--out", str(csv_out), "--format", "csv"], env=env).exit_code == 0
    assert csv_out.read_text().splitlines()[0].startswith("seq,at,actor,process")
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 2).values(data="{}"))
    broken = runner.invoke(app, ["records", "verify"], env=env)
    assert broken.exit_code == 1 and "BROKEN at record 2" in broken.output

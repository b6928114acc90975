"""The records log: verify detects each kind of tampering; retention erases data, not the chain.

Every tamper case of issue 9 is here: change, delete middle, delete tail, insert, swap, early erasure,
and a rewrite with recomputed hashes (caught by a seal or a published head, and said to be
undetectable without either).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update

from storage import records
from storage.models import Record
from storage.models.records import RecordSeal

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY, PUBLIC = records.new_key()
NONE = records.Anchors()


def fill(sessions, count: int = 5, retain: timedelta | None = None, anchors=NONE, now=T0) -> list[int]:
    with sessions.begin() as session:
        seqs = records.append(
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
    link(sessions, anchors, now)
    return seqs


def link(sessions, anchors=NONE, now=T0) -> records.Linked:
    with sessions.begin() as session:
        return records.link_pending(session, now, anchors)


# Every case runs twice: verify in one process, and verify in worker processes (one stretch of the
# log each, as a log of PARALLEL_FROM records or more is checked). Workers that missed a tamper
# would let a case pass as intact; a break they see is confirmed by the one-process scan.
VERIFY_OPTIONS: dict[str, int] = {}


@pytest.fixture(autouse=True, params=["one process", "worker processes"])
def verify_in(request):
    VERIFY_OPTIONS.clear()
    if request.param == "worker processes":
        VERIFY_OPTIONS.update(workers=3, parallel_from=1)
    yield request.param
    VERIFY_OPTIONS.clear()


def check(sessions, **options) -> records.Verification:
    with sessions() as session:
        return records.verify(session, **VERIFY_OPTIONS, **options)


def current_head(sessions) -> records.Head:
    with sessions() as session:
        return records.head(session)


def rewrite_from(sessions, seq: int, data: dict) -> None:
    """The attack of issue 9: change a record and recompute every later hash by the public scheme."""
    body = records.canonical_json(data)
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == seq).values(data=body, data_hash=records.sha256(body)))
        session.execute(update(Record).where(Record.seq >= seq).values(prev_hash=None, hash=None))
        records.link_pending(session, T0, NONE)


def test_intact_chain_verifies_with_its_count(sessions):
    fill(sessions, 5)
    fill(sessions, 2)  # a second transaction continues the same chain
    result = check(sessions)
    assert result.ok and result.count == 7 and result.unlinked == 0
    assert result.head == current_head(sessions) and result.head.seq == 7
    assert result.undetectable == [records.NO_ANCHOR]


def test_appended_records_are_counted_until_linked(sessions):
    fill(sessions, 3)
    with sessions.begin() as session:
        records.append(session, [records.Entry(T0, "bob", "INC", "noted", "incident", "INC-1", {"a": 1})])
    result = check(sessions)
    assert result.ok and (result.count, result.unlinked) == (4, 1)
    assert link(sessions).count == 1
    result = check(sessions)
    assert result.ok and (result.count, result.unlinked) == (4, 0)


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


def test_changed_unlinked_data_is_named(sessions):
    fill(sessions, 2)
    with sessions.begin() as session:
        records.append(session, [records.Entry(T0, "bob", "INC", "noted", "incident", "INC-1", {"a": 1})])
        session.execute(update(Record).where(Record.seq == 3).values(data='{"a":2}'))
    assert check(sessions).broken_seq == 3


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


def test_unlinked_record_among_linked_ones_is_detected(sessions):
    fill(sessions, 4)
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 2).values(hash=None, prev_hash=None))
    result = check(sessions)
    assert result.broken_seq == 2 and "not linked" in result.reason


def test_tail_truncation_passes_without_anchors_but_says_so(sessions):
    fill(sessions, 6)
    with sessions.begin() as session:
        session.execute(delete(Record).where(Record.seq > 4))
    result = check(sessions)
    assert result.ok and result.count == 4
    assert result.undetectable == [records.NO_ANCHOR]


def test_tail_truncation_is_reported_against_a_published_head(sessions):
    fill(sessions, 6)
    published = current_head(sessions)
    fill(sessions, 2)
    with sessions.begin() as session:
        session.execute(delete(Record).where(Record.seq > 4))
    result = check(sessions, expect=[published])
    assert result.broken_seq == 6 and "truncated" in result.reason and "published head" in result.reason


def test_tail_truncation_below_a_seal_is_reported_with_the_key(sessions):
    fill(sessions, 6, anchors=records.Anchors(key=KEY, every=5))
    with sessions() as session:
        assert [s.seq for s in session.scalars(select(RecordSeal).order_by(RecordSeal.id))] == [5]
    assert check(sessions, public_key=PUBLIC).ok
    with sessions.begin() as session:
        session.execute(delete(Record).where(Record.seq > 4))
    result = check(sessions, public_key=PUBLIC)
    assert result.broken_seq == 5 and "truncated" in result.reason and "seal" in result.reason


def test_rewrite_with_recomputed_hashes_passes_without_anchors_but_says_so(sessions):
    fill(sessions, 5)
    rewrite_from(sessions, 2, {"text": "nothing happened"})
    result = check(sessions)
    assert result.ok and result.undetectable == [records.NO_ANCHOR]


def test_rewrite_with_recomputed_hashes_is_reported_with_the_key(sessions):
    fill(sessions, 5, anchors=records.Anchors(key=KEY, every=3))
    rewrite_from(sessions, 2, {"text": "nothing happened"})
    result = check(sessions, public_key=PUBLIC)
    assert result.broken_seq == 3 and "seal" in result.reason and "rewritten" in result.reason


def test_rewrite_with_recomputed_hashes_is_reported_against_a_published_head(sessions):
    fill(sessions, 5)
    published = current_head(sessions)
    rewrite_from(sessions, 2, {"text": "nothing happened"})
    result = check(sessions, expect=[published])
    assert result.broken_seq == 5 and "published head" in result.reason and "rewritten" in result.reason


def test_a_forged_seal_is_reported(sessions):
    fill(sessions, 5, anchors=records.Anchors(key=KEY, every=5))
    rewrite_from(sessions, 2, {"text": "nothing happened"})
    other, _ = records.new_key()
    with sessions.begin() as session:  # the attacker re-seals with a key of their own
        session.execute(delete(RecordSeal))
        fake = records.head(session)
        sealed_at = records._iso(T0)
        session.execute(
            insert(RecordSeal).values(
                seq=fake.seq,
                hash=fake.hash,
                sealed_at=T0,
                public_key=PUBLIC,
                signature=records.sign(other, fake.seq, fake.hash, sealed_at),
            )
        )
    result = check(sessions, public_key=PUBLIC)
    assert result.broken_seq == 5 and "forged seal" in result.reason


def test_seals_are_made_every_n_records_and_every_hour(sessions):
    anchors = records.Anchors(key=KEY, every=4)
    fill(sessions, 9, anchors=anchors)  # seals at 4 and 8 (and the hour starts again at 8)
    fill(sessions, 1, anchors=anchors, now=T0 + timedelta(minutes=30))  # no seal: within the hour
    fill(sessions, 1, anchors=anchors, now=T0 + timedelta(minutes=61))
    link(sessions, anchors, now=T0 + timedelta(minutes=62))  # nothing new, within the hour: no seal
    with sessions() as session:
        assert [s.seq for s in session.scalars(select(RecordSeal).order_by(RecordSeal.id))] == [4, 8, 11]
    result = check(sessions, public_key=PUBLIC)
    assert result.ok and result.seals == 3 and result.newest_seal_at == records._iso(T0 + timedelta(minutes=61))
    assert result.undetectable == [records.NO_HEADS + " after the last seal"]


def test_heads_file_gets_each_checkpoint_after_commit(sessions, tmp_path):
    heads = tmp_path / "heads.txt"
    anchors = records.Anchors(head_file=heads, every=3)
    fill(sessions, 4, anchors=anchors)  # a checkpoint at 3
    fill(sessions, 1, anchors=anchors, now=T0 + timedelta(hours=1))  # the hourly one at 5
    lines = heads.read_text().splitlines()
    assert [records.Head.parse(line).seq for line in lines] == [3, 5]
    assert records.Head.parse(lines[-1]) == current_head(sessions)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        records.append(session, [records.Entry(T0, "bob", "INC", "noted", "incident", "INC-1", {"a": 1})] * 3)
        records.link_pending(session, T0, anchors)
        raise RuntimeError("rolled back: the head it would have published must not be in the file")
    assert len(heads.read_text().splitlines()) == 2
    result = check(sessions, expect=[records.Head.parse(line) for line in lines])
    assert result.ok and result.undetectable == [records.NO_KEY + " after the last published head"]


def test_retention_erases_data_records_the_erasure_and_the_chain_still_verifies(sessions):
    fill(sessions, 3, retain=timedelta(days=30))
    fill(sessions, 2)  # no retention end: kept
    with sessions.begin() as session:
        assert records.erase_expired(session, T0 + timedelta(days=29)) == 0
        assert records.erase_expired(session, T0 + timedelta(days=31)) == 3
    link(sessions)
    with sessions() as session:
        kept = session.scalars(select(Record.data).order_by(Record.seq)).all()
        erasure = session.scalars(select(Record).where(Record.action == "erased")).one()
    assert kept[:3] == [None, None, None] and all(kept[3:])
    assert (erasure.seq, json.loads(erasure.data)) == (6, {"count": 3, "seqs": [[1, 3]]})
    result = check(sessions)
    assert result.ok and result.erased == 3


def test_early_erasure_of_issue_9_is_reported(sessions):
    fill(sessions, 3, retain=timedelta(days=7 * 365))
    with sessions.begin() as session:  # exactly the attack of issue 9
        session.execute(update(Record).where(Record.seq == 1).values(data=None, erased_at=Record.retain_until))
    result = check(sessions)
    assert (result.broken_seq, result.count) == (1, 0) and "without an erasure record" in result.reason


def test_erasure_record_dated_before_retention_ends_is_reported(sessions):
    fill(sessions, 3, retain=timedelta(days=30))
    with sessions.begin() as session:  # an insider erases early and records it honestly, with today's date
        session.execute(update(Record).where(Record.seq == 2).values(data=None, erased_at=T0 + timedelta(days=1)))
        records.append(
            session,
            [
                records.Entry(
                    T0 + timedelta(days=1), "mallory", "REC", "erased", "records", "retention", {"seqs": [[2, 2]]}
                )
            ],
        )
    link(sessions)
    result = check(sessions)
    assert result.broken_seq == 2 and "before its retention ended" in result.reason


def test_future_dated_records_are_reported_when_now_is_given(sessions):
    fill(sessions, 3, retain=timedelta(days=30))
    with sessions.begin() as session:  # a forged erasure dated after retention ends, i.e. in the future
        session.execute(update(Record).where(Record.seq == 2).values(data=None, erased_at=T0 + timedelta(days=31)))
        records.append(
            session,
            [
                records.Entry(
                    T0 + timedelta(days=31), "mallory", "REC", "erased", "records", "retention", {"seqs": [[2, 2]]}
                )
            ],
        )
    link(sessions)
    assert check(sessions).ok  # a verifier that does not know the date cannot tell
    result = check(sessions, now=T0 + timedelta(days=1))
    assert result.broken_seq == 4 and "future" in result.reason


def test_existing_chain_written_before_the_linker_still_verifies(sessions):
    """Rows as the old append wrote them (seq and hashes at insert) verify unchanged after 0005."""
    prev = records.GENESIS
    with sessions.begin() as session:
        for seq in (1, 2, 3):
            data = records.canonical_json({"n": seq})
            data_hash = records.sha256(data)
            at = T0 + timedelta(seconds=seq, microseconds=seq * 7)
            own = records.record_hash(seq, at, "a", "INC", "x", "incident", "I", data_hash, prev, None)
            session.execute(
                insert(Record).values(
                    seq=seq,
                    at=at,
                    actor="a",
                    process="INC",
                    action="x",
                    subject_type="incident",
                    subject_id="I",
                    data=data,
                    data_hash=data_hash,
                    prev_hash=prev,
                    hash=own,
                )
            )
            prev = own
    assert check(sessions).ok
    if sessions.kw["bind"].dialect.name == "postgresql":  # the migration set the sequence after the old rows
        with sessions.begin() as session:
            session.execute(select(func.setval("records_seq", 3)))
    fill(sessions, 2)
    result = check(sessions)
    assert result.ok and result.count == 5


def test_worker_processes_check_an_intact_chain_in_stretches_that_join(sessions, verify_in):
    fill(sessions, 10)
    with sessions.begin() as session:  # two erased records and their erasure, in different stretches
        session.execute(update(Record).where(Record.seq.in_([2, 9])).values(data=None))
    with sessions.begin() as session:
        records.append(
            session, [records.Entry(T0, "bot", "REC", "erased", "records", "2,9", {"seqs": [[2, 2], [9, 9]]})]
        )
    link(sessions)
    with sessions() as session:
        joined = records._check_in_workers(session, {}, None, 4, workers=3)
    assert joined is not None, "the workers' stretches did not join"
    assert (joined.count, joined.prev_seq, joined.unlinked) == (11, 11, 0)
    assert [seq for seq, _ in joined.erased] == [2, 9]
    assert joined.prev_hash == current_head(sessions).hash


def test_worker_processes_hand_a_broken_chain_to_the_one_process_scan(sessions, verify_in):
    fill(sessions, 10)
    with sessions.begin() as session:
        session.execute(update(Record).where(Record.seq == 7).values(actor="mallory"))
    with sessions() as session:
        assert records._check_in_workers(session, {}, None, 4, workers=3) is None
    result = check(sessions)
    assert (result.broken_seq, result.count) == (7, 6)
    assert "record hash does not match" in result.reason


@pytest.mark.parametrize("python", ["/bin/false", "/nonexistent/python3"])
def test_a_worker_that_fails_or_cannot_start_leaves_the_check_to_one_process(sessions, monkeypatch, caplog, python):
    fill(sessions, 10)
    monkeypatch.setattr("sys.executable", python)  # this machine's workers exit at once, or cannot start

    with sessions() as session:
        result = records.verify(session, workers=2, parallel_from=1)

    assert result.ok and result.count == 10 and result.head == current_head(sessions)
    assert "a worker failed, checking in one process" in caplog.text

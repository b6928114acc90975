"""The records log: append-only, hash-chained, verifiable, with retention.

Each record's own hash covers its position (seq), its metadata, the SHA-256 of its data and the hash
of the record before it. Changing data, deleting, swapping or inserting records therefore breaks the
chain at a place ``verify`` can name. When retention ends only the data is erased; its hash stays in
the chain, so the log still verifies and an auditor can see that something was there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Select, event, insert, select, text, type_coerce, update
from sqlalchemy.orm import Session

from storage.db import is_postgresql
from storage.models.records import Record

GENESIS = "0" * 64
_HEAD = "records_head"
# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK = 0x15A5_0001
# Built once: constructing and caching a statement per call costs more than running it on SQLite.
# Plain table statements also skip the ORM layer, which adds nothing to rows that are only dicts.
_TABLE = Record.__table__
_HEAD_QUERY = select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_TABLE)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_COLUMNS = (
    "seq",
    "at",
    "actor",
    "process",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "data_hash",
    "prev_hash",
    "hash",
    "retain_until",
    "erased_at",
)
_TIMES = ("at", "retain_until", "erased_at")
_STREAM_QUERY = select(*(_TABLE.c[name] for name in _COLUMNS)).order_by(_TABLE.c.seq)
# verify takes timestamps as the driver returns them (naive UTC on SQLite, aware on PostgreSQL) and
# spells them itself (``_stored_iso``): converting three columns of every row through UtcDateTime
# took a third of its time.
_VERIFY_QUERY = select(
    *(type_coerce(_TABLE.c[name], DateTime(timezone=True)) if name in _TIMES else _TABLE.c[name] for name in _COLUMNS)
).order_by(_TABLE.c.seq)


@dataclass(frozen=True)
class Entry:
    """What a workflow wants recorded; the log adds position and hashes."""

    at: datetime
    actor: str
    process: str
    action: str
    subject_type: str
    subject_id: str
    data: Mapping[str, Any]
    retain_until: datetime | None = None


@dataclass(frozen=True)
class Verification:
    """Outcome of ``verify``: how many records were checked and the first broken one, if any."""

    count: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def canonical_json(data: Mapping[str, Any]) -> str:
    """One spelling per value, so the same data always hashes the same."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256(text_value: str) -> str:
    return hashlib.sha256(text_value.encode("utf-8")).hexdigest()


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="microseconds")


def _stored_iso(value: datetime | None) -> str:
    """``_iso`` of the UTC value of a timestamp as the driver returns it (SQLite's are naive UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        return value.isoformat(timespec="microseconds") + "+00:00"
    return _iso(value.astimezone(UTC))


def record_hash(
    seq: int,
    at: datetime,
    actor: str,
    process: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data_hash: str,
    prev_hash: str,
    retain_until: datetime | None,
) -> str:
    return _fields_hash(
        seq, _iso(at), actor, process, action, subject_type, subject_id, data_hash, prev_hash, _iso(retain_until)
    )


def _fields_hash(
    seq: int,
    at: str,
    actor: str,
    process: str,
    action: str,
    subject_type: str,
    subject_id: str,
    data_hash: str,
    prev_hash: str,
    retain_until: str,
) -> str:
    fields = (str(seq), at, actor, process, action, subject_type, subject_id, data_hash, prev_hash, retain_until)
    return sha256("\x1f".join(fields))


def _head(session: Session) -> tuple[int, str]:
    """The last (seq, hash), read once per transaction under the append lock and then kept."""
    head = session.info.get(_HEAD)
    if head is None:
        if is_postgresql(session):
            session.execute(_LOCK, {"key": _APPEND_LOCK})
        row = session.execute(_HEAD_QUERY).first()
        head = (row.seq, row.hash) if row else (0, GENESIS)
        session.info[_HEAD] = head
    return head


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, transaction) -> None:  # type: ignore[no-untyped-def]
    """The cached head is only valid inside the transaction that holds the append lock."""
    if transaction.parent is None:
        session.info.pop(_HEAD, None)


def append(session: Session, entries: Iterable[Entry]) -> list[int]:
    """Append entries in order in the caller's transaction; returns their sequence numbers."""
    seq, prev = _head(session)
    rows = []
    for entry in entries:
        seq += 1
        at = entry.at.astimezone(UTC)
        retain_until = entry.retain_until.astimezone(UTC) if entry.retain_until else None
        data = canonical_json(entry.data)
        data_hash = sha256(data)
        own = record_hash(
            seq,
            at,
            entry.actor,
            entry.process,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            data_hash,
            prev,
            retain_until,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": entry.actor,
                "process": entry.process,
                "action": entry.action,
                "subject_type": entry.subject_type,
                "subject_id": entry.subject_id,
                "data": data,
                "data_hash": data_hash,
                "prev_hash": prev,
                "hash": own,
                "retain_until": retain_until,
                "erased_at": None,
            }
        )
        prev = own
    if rows:
        session.execute(_INSERT, rows)
        session.info[_HEAD] = (seq, prev)
    return [row["seq"] for row in rows]


def _stream(session: Session, query: Select[Any] = _STREAM_QUERY, batch: int = 20_000) -> Iterator[Any]:
    yield from session.execute(query.execution_options(yield_per=batch))


def verify(session: Session) -> Verification:
    """Recompute the whole chain and name the first record that does not fit."""
    expected_seq, prev = 1, GENESIS
    count = 0
    for (
        seq,
        at,
        actor,
        process,
        action,
        subject_type,
        subject_id,
        data,
        data_hash,
        prev_hash,
        own_hash,
        retain_until,
        erased_at,
    ) in _stream(session, _VERIFY_QUERY):
        if seq != expected_seq:
            return Verification(count, expected_seq, f"record {expected_seq} is missing (next is {seq})")
        if erased_at is None:
            if data is None or sha256(data) != data_hash:
                return Verification(count, seq, "data does not match its hash (changed)")
        elif data is not None or retain_until is None or retain_until > erased_at:
            return Verification(count, seq, "data erased before its retention ended")
        if prev_hash != prev:
            return Verification(count, seq, f"does not follow record {seq - 1} (inserted, swapped or changed)")
        own = _fields_hash(
            seq,
            _stored_iso(at),
            actor,
            process,
            action,
            subject_type,
            subject_id,
            data_hash,
            prev_hash,
            _stored_iso(retain_until),
        )
        if own != own_hash:
            return Verification(count, seq, "record hash does not match its contents (changed)")
        prev = own_hash
        expected_seq += 1
        count += 1
    return Verification(count)


def erase_expired(session: Session, now: datetime) -> int:
    """Erase the data of records whose retention has ended; their hashes stay in the chain."""
    result = session.execute(
        update(Record)
        .where(Record.retain_until <= now, Record.erased_at.is_(None))
        .values(data=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


EXPORT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "process",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "data_hash",
    "prev_hash",
    "hash",
    "retain_until",
    "erased_at",
)


def export_rows(session: Session) -> Iterator[dict[str, str | int | None]]:
    """Every record as plain values, in order, exactly as hashed (so an export can be re-verified)."""
    for row in _stream(session):
        yield {
            "seq": row.seq,
            "at": _iso(row.at),
            "actor": row.actor,
            "process": row.process,
            "action": row.action,
            "subject_type": row.subject_type,
            "subject_id": row.subject_id,
            "data": row.data,
            "data_hash": row.data_hash,
            "prev_hash": row.prev_hash,
            "hash": row.hash,
            "retain_until": _iso(row.retain_until) or None,
            "erased_at": _iso(row.erased_at) or None,
        }

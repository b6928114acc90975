"""The records log: append-only, hash-chained by a linker, sealed, verifiable, with retention.

Writers only insert: ``append`` stores each record with its data hash and a sequence number the
database gives (no lock, no head lookup), so concurrent transactions never wait for each other. The
linker (``link_pending``: the scheduler's leader every tick, and ``records link``/``verify``/``export``
on demand) chains the committed records in seq order, in batches: each record's own hash covers its
seq, metadata, data hash and the hash of the record before it. At every checkpoint (every
``Anchors.every`` records and every hour) the head is signed with Ed25519 when ISMS_RECORDS_KEY is set
and appended to ISMS_RECORDS_HEAD_FILE when that is set. An erasure is itself a record ("erased",
naming the seqs) and is valid only at or after the erased record's ``retain_until``.

The exact scheme, why it is built this way and what each anchor detects: docs/records.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, event, insert, text
from sqlalchemy.orm import Session

from storage import chain_check
from storage.chain_check import Stretch
from storage.db import is_postgresql
from storage.models.base import UtcDateTime
from storage.models.records import Record, RecordSeal

if TYPE_CHECKING:
    from config.settings import Settings

GENESIS = "0" * 64
SEAL_CONTEXT = "isms-records-seal-v1"
ERASURE_PROCESS, ERASURE_ACTION = "REC", "erased"
CHECKPOINT_EVERY = 1000
# From this many records verify checks stretches of the log in worker processes at once.
PARALLEL_FROM = 200_000
CHECKPOINT_INTERVAL = timedelta(hours=1)
# Arbitrary constant naming the PostgreSQL advisory lock that only linkers take (writers never do).
_LINK_LOCK = 0x15A5_0002
_PENDING_HEADS = "records_pending_heads"
_TABLE: Table = Record.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_INSERT = insert(_TABLE).returning(_TABLE.c.seq)
_US = "\x1f"
log = logging.getLogger(__name__)
_SEALS = text("SELECT id, seq, hash, sealed_at, public_key, signature FROM record_seals ORDER BY id").columns(
    sealed_at=UtcDateTime()
)
_LAST_CHECKPOINT = text("SELECT seq, sealed_at FROM record_seals ORDER BY id DESC LIMIT 1").columns(
    sealed_at=UtcDateTime()
)


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
class Head:
    """The last linked record: what is sealed and published (``str`` gives ``SEQ:HASH``)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, value: str) -> Head:
        seq, _, digest = value.strip().split()[0].partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"not a published head (SEQ:HASH): {value.strip()!r}")
        return cls(int(seq), digest.lower())


@dataclass(frozen=True)
class Linked:
    count: int
    head: Head
    checkpoints: int
    waiting: int  # committed records left unlinked because an earlier seq may still commit


@dataclass
class Verification:
    """Outcome of ``verify``: records checked, the first broken one (if any), and the anchors used.

    ``count`` is every record checked, ``unlinked`` of them not yet chained (their data hashes checked).
    """

    count: int
    broken_seq: int | None = None
    reason: str = ""
    unlinked: int = 0
    head: Head | None = None
    seals: int = 0
    unsigned_checkpoints: int = 0
    newest_seal_at: str | None = None
    heads_checked: int = 0
    erased: int = 0
    undetectable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


# ------------------------------------------------------------------------------------ hashing


def canonical_json(data: Mapping[str, Any]) -> str:
    """One spelling per value, so the same data always hashes the same."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256(text_value: str) -> str:
    return hashlib.sha256(text_value.encode("utf-8")).hexdigest()


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


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
    fields = (str(seq), _iso(at), actor, process, action, subject_type, subject_id, data_hash, prev_hash)
    return sha256(_US.join((*fields, _iso(retain_until))))


def seal_message(seq: int, head_hash: str, sealed_at: str) -> bytes:
    return _US.join((SEAL_CONTEXT, str(seq), head_hash, sealed_at)).encode("utf-8")


# -------------------------------------------------------------------- SQL that spells the hash input


def _sql(session: Session) -> dict[str, str]:
    """Expressions that spell a row exactly as hashed: times as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``.

    The database formats (PostgreSQL on its own core), Python only hashes: this is most of why
    verify is fast. SQLite stores SQLAlchemy's ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC.
    """
    if is_postgresql(session):
        at = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        until = "to_char(retain_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        erased = "to_char(erased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
        us = "chr(31)"
    else:
        at = "(replace(at, ' ', 'T') || '+00:00')"
        until = "(replace(retain_until, ' ', 'T') || '+00:00')"
        erased = "(replace(erased_at, ' ', 'T') || '+00:00')"
        us = "char(31)"
    head = f" || {us} || ".join(
        ("CAST(seq AS TEXT)", at, "actor", "process", "action", "subject_type", "subject_id", "data_hash")
    )
    return {"at": at, "until": until, "erased": erased, "head": head, "tail": f"COALESCE({until}, '')", "us": us}


# ------------------------------------------------------------------------------------- writing


def append(session: Session, entries: Iterable[Entry]) -> list[int]:
    """Insert entries in order in the caller's transaction, unlinked; returns their sequence numbers.

    No lock and no read: the database numbers the rows, the linker chains them after commit.
    """
    rows = []
    for entry in entries:
        data = canonical_json(entry.data)
        rows.append(
            {
                "at": entry.at.astimezone(UTC),
                "actor": entry.actor,
                "process": entry.process,
                "action": entry.action,
                "subject_type": entry.subject_type,
                "subject_id": entry.subject_id,
                "data": data,
                "data_hash": hashlib.sha256(data.encode("utf-8")).hexdigest(),
                "retain_until": entry.retain_until.astimezone(UTC) if entry.retain_until else None,
            }
        )
    if not rows:
        return []
    return sorted(session.scalars(_INSERT, rows))


def erase_expired(session: Session, now: datetime) -> int:
    """Erase the data of records whose retention has ended, and record the erasure.

    The erasure record (process REC, action "erased", data ``{"count": n, "seqs": [[first, last], ...]}``)
    is appended in the same transaction; verify accepts an erased record only when such a record names
    it and is dated at or after its ``retain_until``.
    """
    erased = sorted(
        session.scalars(
            text(
                "UPDATE records SET data = NULL, erased_at = :now "
                "WHERE retain_until <= :now AND erased_at IS NULL RETURNING seq"
            ).bindparams(bindparam("now", now, type_=UtcDateTime()))
        )
    )
    if erased:
        append(
            session,
            [
                Entry(
                    now,
                    "system",
                    ERASURE_PROCESS,
                    ERASURE_ACTION,
                    "records",
                    "retention",
                    {"count": len(erased), "seqs": _ranges(erased)},
                )
            ],
        )
    return len(erased)


def _ranges(seqs: Sequence[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


# ------------------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchors:
    """Where the linker anchors the chain outside the table: an Ed25519 key and/or a heads file."""

    key: str | None = None  # 32-byte Ed25519 seed, hex (ISMS_RECORDS_KEY)
    head_file: Path | None = None  # ISMS_RECORDS_HEAD_FILE
    every: int = CHECKPOINT_EVERY
    interval: timedelta = CHECKPOINT_INTERVAL

    @classmethod
    def from_settings(cls, settings: Settings) -> Anchors:
        key = settings.records_key.get_secret_value() if settings.records_key else None
        return cls(key=key, head_file=settings.records_head_file)

    @classmethod
    def from_environment(cls) -> Anchors:
        from config.settings import load_settings

        return cls.from_settings(load_settings())

    @property
    def public_key(self) -> str | None:
        return public_key_of(self.key) if self.key else None


def _private_key(seed_hex: str):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        seed = bytes.fromhex(seed_hex.strip())
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ValueError("ISMS_RECORDS_KEY must be 64 hex digits (an Ed25519 seed; `isms-bot records keygen`)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_of(seed_hex: str) -> str:
    public: bytes = _private_key(seed_hex).public_key().public_bytes_raw()
    return public.hex()


def new_key() -> tuple[str, str]:
    """A fresh (private seed, public key), both hex."""
    import secrets

    seed = secrets.token_hex(32)
    return seed, public_key_of(seed)


def sign(seed_hex: str, seq: int, head_hash: str, sealed_at: str) -> str:
    signature: bytes = _private_key(seed_hex).sign(seal_message(seq, head_hash, sealed_at))
    return signature.hex()


def signature_valid(public_key: str, signature: str, seq: int, head_hash: str, sealed_at: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), seal_message(seq, head_hash, sealed_at)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


# -------------------------------------------------------------------------------------- linking


def head(session: Session) -> Head:
    """The head to publish: the last linked record (``str(head)`` is ``SEQ:HASH``)."""
    row = session.execute(
        text("SELECT seq, hash FROM records WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1")
    ).first()
    return Head(row.seq, row.hash) if row else Head(0, GENESIS)


def _settled_through(session: Session, wait: float) -> int | None:
    """The highest seq below which no transaction can still commit a record (None: unknown).

    SQLite: the linker holds the only write lock, so nothing is in flight. PostgreSQL: every writer
    has a transaction id before it takes a seq (the column default calls ``pg_current_xact_id()``
    first), so once every transaction that was running when we read the sequence has ended, every
    seq up to that value is either visible or will never exist (rolled back). "Ended" is judged by a
    fresh snapshot, not by ``pg_xact_status``: a commit is written to the commit log a moment before
    it becomes visible to new snapshots, and linking in that moment would skip a committed record.
    """
    if not is_postgresql(session):
        return 2**62
    last = session.execute(text("SELECT last_value FROM records_seq WHERE is_called")).scalar()
    if last is None:
        return 0
    running = session.execute(
        text(
            "SELECT coalesce(array_agg(CAST(x AS text)), '{}') FROM pg_snapshot_xip(pg_current_snapshot()) x "
            "WHERE pg_current_xact_id_if_assigned() IS NULL OR x <> pg_current_xact_id_if_assigned()"
        )
    ).scalar()
    deadline = time.monotonic() + wait
    while running:
        running = session.execute(
            text(
                "SELECT coalesce(array_agg(x), '{}') FROM unnest(CAST(:xids AS text[])) x "
                "WHERE CAST(x AS xid8) IN (SELECT pg_snapshot_xip(pg_current_snapshot()))"
            ),
            {"xids": list(running)},
        ).scalar()
        if running and time.monotonic() >= deadline:
            return None
        if running:
            time.sleep(0.002)
    return int(last)


def link_pending(
    session: Session,
    now: datetime,
    anchors: Anchors | None = None,
    *,
    batch: int = 20_000,
    wait: float = 2.0,
) -> Linked:
    """Chain every committed, unlinked record in seq order, in the caller's transaction.

    Call it from the scheduler's leader every tick, and before verify/export. A gap in seq (a
    transaction that rolled back, or one still running) is crossed only once it is settled; committed
    records after an unsettled gap wait for the next run. ``anchors`` defaults to the environment's
    ISMS_RECORDS_KEY and ISMS_RECORDS_HEAD_FILE.
    """
    anchors = Anchors.from_environment() if anchors is None else anchors
    settled = _settled_through(session, wait)
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LINK_LOCK})
    sql = _sql(session)
    current = head(session)
    last_checkpoint = session.execute(_LAST_CHECKPOINT).first()
    checkpoint_seq = last_checkpoint.seq if last_checkpoint else 0
    checkpoint_at = _aware(last_checkpoint.sealed_at) if last_checkpoint else None
    select_pending = text(
        f"SELECT seq, {sql['head']}, {sql['tail']} FROM records "
        "WHERE hash IS NULL AND seq > :after ORDER BY seq LIMIT :limit"
    )
    update = text("UPDATE records SET prev_hash = :prev, hash = :hash WHERE seq = :seq")
    linked = checkpoints = waiting = 0
    seq, prev = current.seq, current.hash
    while True:
        rows = session.execute(select_pending, {"after": seq, "limit": batch}).all()
        updates = []
        for row_seq, head_text, tail_text in rows:
            if row_seq != seq + 1 and (settled is None or row_seq > settled):
                break
            own = hashlib.sha256(_US.join((head_text, prev, tail_text)).encode("utf-8")).hexdigest()
            updates.append({"seq": row_seq, "prev": prev, "hash": own})
            seq, prev = row_seq, own
            if (anchors.key or anchors.head_file) and seq - checkpoint_seq >= anchors.every:
                _checkpoint(session, anchors, Head(seq, prev), now)
                checkpoints += 1
                checkpoint_seq, checkpoint_at = seq, now
        if updates:
            session.execute(update, updates)
            linked += len(updates)
        if len(updates) < len(rows):
            waiting = session.execute(text("SELECT count(*) FROM records WHERE hash IS NULL")).scalar_one()
            break
        if len(rows) < batch:
            break
    if (
        (anchors.key or anchors.head_file)
        and seq > 0
        and (checkpoint_at is None or now - checkpoint_at >= anchors.interval)
    ):
        _checkpoint(session, anchors, Head(seq, prev), now)
        checkpoints += 1
    return Linked(linked, Head(seq, prev), checkpoints, waiting)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _checkpoint(session: Session, anchors: Anchors, at_head: Head, now: datetime) -> None:
    """Seal the head (when a key is set) and queue it for the heads file (written after commit)."""
    sealed_at = _iso(now)
    public, signature = "", ""
    if anchors.key:
        public = public_key_of(anchors.key)
        signature = sign(anchors.key, at_head.seq, at_head.hash, sealed_at)
    session.execute(
        insert(RecordSeal).values(
            seq=at_head.seq, hash=at_head.hash, sealed_at=now, public_key=public, signature=signature
        )
    )
    if anchors.head_file:
        session.info.setdefault(_PENDING_HEADS, []).append((anchors.head_file, f"{at_head} {sealed_at}\n"))


@event.listens_for(Session, "after_commit")
def _publish_heads(session: Session) -> None:
    for path, line in session.info.pop(_PENDING_HEADS, []):
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(line)


@event.listens_for(Session, "after_soft_rollback")
def _forget_heads(session: Session, previous_transaction) -> None:  # type: ignore[no-untyped-def]
    session.info.pop(_PENDING_HEADS, None)


# ------------------------------------------------------------------------------------- verifying

NO_KEY = "a rewrite of the chain with recomputed hashes (no seal key given)"
NO_HEADS = "removal of records at the tail (no published head given)"
NO_ANCHOR = "removal of records at the tail, or a rewrite of the chain with recomputed hashes"


def _verify_query(session: Session, seqs: tuple[int, int] | None = None) -> str:
    """The rows ``chain_check`` reads, in seq order; on SQLite the data and the hashed fields come as
    BLOBs (bytes), which is what gets hashed, so Python neither decodes nor encodes them."""
    sql = _sql(session)
    fields = f"{sql['head']} || {sql['us']} || prev_hash || {sql['us']} || {sql['tail']}"
    data = "data"
    if not is_postgresql(session):
        data, fields = "CAST(data AS BLOB)", f"CAST({fields} AS BLOB)"
    where = f" WHERE seq BETWEEN {int(seqs[0])} AND {int(seqs[1])}" if seqs else ""
    return (
        f"SELECT seq, {sql['at']}, {data}, data_hash, prev_hash, hash, {sql['until']}, "
        f"process = '{ERASURE_PROCESS}' AND action = '{ERASURE_ACTION}', {fields} FROM records{where} ORDER BY seq"
    )


def _fetch(session: Session, query: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Raw DBAPI batches of one statement (one snapshot); a server-side cursor on PostgreSQL."""
    connection: Any = session.connection().connection.dbapi_connection  # psycopg or sqlite3, untyped here
    if is_postgresql(session):
        cursor = connection.cursor(name="records_verify")
        cursor.itersize = size
    else:
        cursor = connection.cursor()
    try:
        cursor.execute(query)
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()


def _worker_source(session: Session) -> dict[str, str] | None:
    """How a worker process reaches the same records: the SQLite file, or the PostgreSQL server with
    this transaction's snapshot exported (the workers read exactly what this session sees). None for
    an in-memory database."""
    url = session.connection().engine.url
    if is_postgresql(session):
        snapshot = session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return {"backend": "postgresql", "database": conninfo, "snapshot": snapshot}
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return {"backend": "sqlite", "database": url.database}


def _check_in_workers(
    session: Session, expected: Mapping[int, tuple[str, str]], now: str | None, batch: int, workers: int
) -> Stretch | None:
    """The chain checked in ``workers`` processes at once, one stretch of seqs each, then joined.

    None when this cannot be used or does not come out clean: a stretch with a break, two stretches
    that do not join, or a worker that failed. The caller then scans on one snapshot and names the
    first broken record exactly (on SQLite the workers' snapshots may differ by a commit or two, so a
    break seen here is confirmed that way rather than reported)."""
    low, high = session.execute(text("SELECT min(seq), max(seq) FROM records")).one()
    source = _worker_source(session)
    if low is None or source is None:
        return None
    step = (high - low) // workers + 1
    stretches = [(first, min(first + step - 1, high)) for first in range(low, high + 1, step)]
    anchors = [[seq, digest_hex, anchor] for seq, (digest_hex, anchor) in sorted(expected.items())]
    root = str(Path(__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    jobs = [
        json.dumps({**source, "query": _verify_query(session, seqs), "batch": batch, "now": now, "expect": anchors})
        for seqs in stretches
    ]

    def run(job: str) -> tuple[int, bytes, bytes]:
        try:
            worker = subprocess.Popen(
                [sys.executable, "-m", "storage.chain_check"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
            )
        except OSError as error:  # no process to be had here: the one-process scan does the work
            return -1, b"", str(error).encode()
        out, problem = worker.communicate(job.encode("utf-8"))
        return worker.returncode, out, problem

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        outcomes = list(pool.map(run, jobs))
    found: list[Stretch] = []
    for code, out, problem in outcomes:
        if code != 0:
            log.warning("records verify: a worker failed, checking in one process: %s", problem.decode()[-500:])
            return None
        found.append(Stretch(**json.loads(out)))
    return _joined(found)


def _joined(stretches: Sequence[Stretch]) -> Stretch | None:
    """Stretches in seq order as one, or None where they do not join cleanly."""
    whole = Stretch(prev_hash=GENESIS)
    erasures: dict[int, tuple[int, str]] = {}
    for part in stretches:
        if part.broken:
            return None
        if part.count:
            if whole.first_unlinked is not None or part.first_prev != whole.prev_hash:
                return None
            whole.prev_seq, whole.prev_hash = part.prev_seq, part.prev_hash
        whole.count += part.count
        whole.unlinked += part.unlinked
        whole.first_unlinked = whole.first_unlinked or part.first_unlinked
        whole.erased += [(seq, until) for seq, until in part.erased]
        for seq, by, at in part.erasures:
            erasures.setdefault(seq, (by, at))
        whole.matched += part.matched
    whole.erasures = [(seq, by, at) for seq, (by, at) in sorted(erasures.items())]
    return whole


def _erasure_problem(stretch: Stretch) -> tuple[int, str] | None:
    erasures = {seq: (by, at) for seq, by, at in stretch.erasures}
    for seq, until in sorted(stretch.erased):
        erasure = erasures.get(seq)
        if erasure is None or erasure[0] <= seq:
            return seq, "data erased without an erasure record in the chain"
        if until is None or erasure[1] < until:
            return seq, f"data erased before its retention ended (erased {erasure[1]}, kept until {until})"
    return None


def verify(
    session: Session,
    *,
    public_key: str | None = None,
    expect: Iterable[Head] = (),
    now: datetime | None = None,
    batch: int = 50_000,
    workers: int | None = None,
    parallel_from: int | None = None,
) -> Verification:
    """Recompute the whole chain and check it against its anchors; name the first broken record.

    ``public_key`` (hex Ed25519) checks every seal; ``expect`` are published heads; ``now`` also
    rejects records dated in the future. Records not yet linked are counted, not failed. A log of
    ``parallel_from`` (``PARALLEL_FROM``) records or more is checked by ``workers`` processes (default: one per CPU, at
    most 4) when there is more than one CPU.
    """
    seals = session.execute(_SEALS).all()
    expected: dict[int, tuple[str, str]] = {}
    result = Verification(0)
    problem: tuple[int, str] | None = None
    for published in expect:
        expected[published.seq] = (published.hash, f"the published head {published}")
    signed = [s for s in seals if s.signature]
    result.unsigned_checkpoints = len(seals) - len(signed)
    if public_key:
        for seal in signed:
            sealed_at = _iso(_aware(seal.sealed_at))
            if seal.public_key != public_key or not signature_valid(
                public_key, seal.signature, seal.seq, seal.hash, sealed_at
            ):
                problem = problem or (seal.seq, f"its seal of {sealed_at} is not signed by the key (forged seal)")
                continue
            expected.setdefault(seal.seq, (seal.hash, f"its seal of {sealed_at}"))
            result.seals += 1
            result.newest_seal_at = max(result.newest_seal_at or "", sealed_at)
    at_most = _iso(now) if now else None
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    stretch = None
    if workers > 1 and _size(session) >= (PARALLEL_FROM if parallel_from is None else parallel_from):
        stretch = _check_in_workers(session, expected, at_most, batch, workers)
    if stretch is None:
        stretch = chain_check.check(_fetch(session, _verify_query(session), batch), expected, at_most, GENESIS)
    result.count, result.unlinked = stretch.count + stretch.unlinked, stretch.unlinked
    result.head = Head(stretch.prev_seq, stretch.prev_hash or GENESIS)
    result.erased = len(stretch.erased)
    # erasure records may lie beyond a break, so erasures are only judged on a complete scan
    erasures = _erasure_problem(stretch) if not stretch.broken else None
    candidates = [p for p in (problem, stretch.broken, erasures) if p]
    if not stretch.broken:
        for seq in sorted(set(expected) - set(stretch.matched)):
            if seq > stretch.prev_seq:
                candidates.append((seq, f"missing: {expected[seq][1]} names it (truncated)"))
            else:
                candidates.append((seq, f"missing: {expected[seq][1]} names it (deleted)"))
            break
    if candidates:
        result.broken_seq, result.reason = min(candidates)
        if result.broken_seq <= stretch.prev_seq:
            result.count = session.execute(
                text("SELECT count(*) FROM records WHERE seq < :seq"), {"seq": result.broken_seq}
            ).scalar_one()
    if not public_key and not expected:
        result.undetectable.append(NO_ANCHOR)
    elif not public_key:
        result.undetectable.append(NO_KEY + " after the last published head")
    elif not expect:
        result.undetectable.append(NO_HEADS + " after the last seal")
    return result


def _size(session: Session) -> int:
    """Roughly how many records there are, from the seq range (one index lookup at each end)."""
    low, high = session.execute(text("SELECT min(seq), max(seq) FROM records")).one()
    return 0 if low is None else int(high) - int(low) + 1


# ------------------------------------------------------------------------------------- exporting

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


PROCESS_ID = re.compile(r"^[A-Z][A-Z0-9.]{0,15}$")


def export_rows(
    session: Session,
    batch: int = 20_000,
    *,
    process: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[dict[str, str | int | None]]:
    """Every linked record as plain values, in order, spelt exactly as hashed (see docs/records.md);
    only ``process``'s and those dated in ``[since, until)`` when given (each record still carries
    its own and its predecessor's hash, so a filtered export is checked record by record against a
    full export or the database, not as one chain)."""
    sql = _sql(session)
    where = ["hash IS NOT NULL"]
    if process is not None:
        if not PROCESS_ID.match(process):
            raise ValueError(f"not a process id: {process!r}")
        where.append(f"process = '{process}'")
    for bound, operator in ((since, ">="), (until, "<")):
        if bound is not None:
            moment = bound.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            literal = f"'{moment}+00'" if is_postgresql(session) else f"'{moment}'"
            where.append(f"at {operator} {literal}")
    query = (
        f"SELECT seq, {sql['at']}, actor, process, action, subject_type, subject_id, data, data_hash, "
        f"prev_hash, hash, {sql['until']}, {sql['erased']} FROM records WHERE {' AND '.join(where)} ORDER BY seq"
    )
    for rows in _fetch(session, query, batch):
        for row in rows:
            yield dict(zip(EXPORT_COLUMNS, row, strict=True))


def export_seals(session: Session) -> Iterator[dict[str, str | int]]:
    """Every signed seal, for the export (one JSON line each, ``"type": "seal"``)."""
    for seal in session.execute(_SEALS):
        if not seal.signature:
            continue
        yield {
            "type": "seal",
            "seq": seal.seq,
            "hash": seal.hash,
            "sealed_at": _iso(_aware(seal.sealed_at)),
            "public_key": seal.public_key,
            "signature": seal.signature,
        }

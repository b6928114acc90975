"""Checking one stretch of the records chain, in this process or in a worker process of its own.

Verifying a large log is bound by the CPU of one Python process: the database hands over the rows and
Python hashes them, both holding the GIL. ``records.verify`` therefore splits a large log into
stretches of sequence numbers and checks them in worker processes at once (``python -m
storage.chain_check``: a JSON job on stdin, a JSON ``Stretch`` on stdout), then joins the stretches:
each must start with the hash the one before it ended on. This module imports no SQLAlchemy, so a
worker starts in a few tens of milliseconds; the caller builds the query.

Rows, in order: seq, at (as hashed), data, data_hash, prev_hash, hash, retain_until (as hashed),
is-an-erasure, and the record's hashed fields. ``data`` and the fields may come as bytes (SQLite hands
them over as BLOBs, which saves decoding and encoding a million strings) or as text (PostgreSQL).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import operator
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

_HEX = operator.methodcaller("hexdigest")


def digest(value: bytes | str) -> str:
    """SHA-256 (hex) of a record's data or hashed fields, whichever way the driver handed them over."""
    return hashlib.sha256(value if isinstance(value, bytes) else value.encode("utf-8")).hexdigest()


def _digests(values: Sequence[bytes | str | None]) -> list[str | None]:
    """The digests of a batch; C-level maps in the usual case of no erased data (no Python frame a row)."""
    if None in values:
        return [None if value is None else digest(value) for value in values]
    if values and isinstance(values[0], str):
        return list(map(_HEX, map(hashlib.sha256, map(str.encode, values))))  # type: ignore[arg-type]
    return list(map(_HEX, map(hashlib.sha256, values)))  # type: ignore[arg-type]


def erased_seqs(data: bytes | str | None) -> Iterator[int]:
    """The seqs an erasure record names (``{"seqs": [[first, last], ...]}``); nothing if unreadable."""
    try:
        for first, last in json.loads(data or "{}").get("seqs", []):
            yield from range(int(first), int(last) + 1)
    except (ValueError, TypeError, AttributeError):
        return


@dataclass
class Stretch:
    """What checking a stretch found; ``prev_hash`` None at the start means "whatever the first row
    names" (a stretch after the first one), which the join then compares with the stretch before."""

    prev_seq: int = 0
    prev_hash: str | None = None
    first_prev: str | None = None
    count: int = 0
    unlinked: int = 0
    first_unlinked: int | None = None
    erased: list[tuple[int, str | None]] = field(default_factory=list)  # erased seq, its retain_until
    erasures: list[tuple[int, int, str]] = field(default_factory=list)  # erased seq, erasure seq, its time
    broken: tuple[int, str] | None = None
    matched: list[int] = field(default_factory=list)


class ChainChecker:
    """Streams rows in seq order; the fast path checks a whole batch with list operations and only a
    batch that fails is walked row by row to name the first broken record."""

    def __init__(self, expect: Mapping[int, tuple[str, str]], now: str | None, prev_hash: str | None):
        self.expect = expect  # seq -> (hash, what anchors it)
        self.expect_seqs = sorted(expect)
        self.now = now
        self.found = Stretch(prev_hash=prev_hash)
        self.erased: dict[int, str | None] = {}
        self.erasures: dict[int, tuple[int, str]] = {}
        self.matched: set[int] = set()

    def result(self) -> Stretch:
        self.found.erased = sorted(self.erased.items())
        self.found.erasures = [(seq, by, at) for seq, (by, at) in sorted(self.erasures.items())]
        self.found.matched = sorted(self.matched)
        return self.found

    def batch(self, rows: list[tuple[Any, ...]]) -> bool:
        found = self.found
        seqs, ats, datas, data_hashes, prevs, hashes, untils, is_erasure, fields = zip(*rows, strict=True)
        if found.prev_hash is None and found.count == 0 and found.unlinked == 0:
            found.prev_hash = found.first_prev = prevs[0]
        linked = len(rows) if hashes[-1] is not None else hashes.index(None)
        ok = found.first_unlinked is None or linked == 0
        computed = _digests(datas)
        if ok and computed != list(data_hashes):
            ok = all(c is None for c, h in zip(computed, data_hashes, strict=True) if c != h)
        if ok and linked:
            ok = (
                prevs[0] == found.prev_hash
                and prevs[1:linked] == hashes[: linked - 1]
                and _digests(fields[:linked]) == list(hashes[:linked])
                and (self.now is None or max(ats) <= self.now)
                and all(h is None for h in hashes[linked:])
            )
        if not ok:
            return self._rows(rows)
        for index in [i for i, c in enumerate(computed) if c is None]:
            self.erased[seqs[index]] = untils[index]
        if True in is_erasure:  # SQLite gives 0/1, which compare equal to False/True
            for index in [i for i, e in enumerate(is_erasure) if e]:
                for seq in erased_seqs(datas[index]):
                    self.erasures.setdefault(seq, (seqs[index], ats[index]))
        if linked:
            self._anchors(seqs[:linked], hashes[:linked])
            found.prev_seq, found.prev_hash = seqs[linked - 1], hashes[linked - 1]
            found.count += linked
        if linked < len(rows):
            found.first_unlinked = found.first_unlinked or seqs[linked]
            found.unlinked += len(rows) - linked
        return True

    def _anchors(self, seqs: Sequence[int], hashes: Sequence[str]) -> None:
        start = bisect.bisect_left(self.expect_seqs, seqs[0])
        stop = bisect.bisect_right(self.expect_seqs, seqs[-1])
        for expected in self.expect_seqs[start:stop]:
            index = bisect.bisect_left(seqs, expected)
            if index < len(seqs) and seqs[index] == expected:
                self.matched.add(expected)
                if hashes[index] != self.expect[expected][0]:
                    self.found.broken = (
                        expected,
                        f"does not match {self.expect[expected][1]} (the chain up to here was rewritten)",
                    )
                    return

    def _rows(self, rows: list[tuple[Any, ...]]) -> bool:
        """The slow path: the same checks row by row, stopping at the first broken record."""
        found = self.found
        for row in rows:
            seq, at, data, data_hash, prev_hash, own_hash, until, is_erasure, fields = row
            if found.prev_hash is None and found.count == 0 and found.unlinked == 0:
                found.prev_hash = found.first_prev = prev_hash
            if own_hash is None:
                if data is None:
                    self.erased[seq] = until
                elif digest(data) != data_hash:
                    return self._break(seq, "data does not match its hash (changed, not yet linked)")
                if is_erasure:
                    for erased in erased_seqs(data):
                        self.erasures.setdefault(erased, (seq, at))
                found.first_unlinked = found.first_unlinked or seq
                found.unlinked += 1
                continue
            if found.first_unlinked is not None:
                return self._break(found.first_unlinked, "not linked, but later records are (inserted or unlinked)")
            if data is None:
                self.erased[seq] = until
            elif digest(data) != data_hash:
                return self._break(seq, "data does not match its hash (changed)")
            if prev_hash != found.prev_hash:
                if seq != found.prev_seq + 1:
                    return self._break(found.prev_seq + 1, f"record(s) missing before record {seq} (deleted)")
                return self._break(seq, f"does not follow record {found.prev_seq} (inserted, swapped or changed)")
            if digest(fields) != own_hash:
                return self._break(seq, "record hash does not match its contents (changed)")
            if self.now is not None and at > self.now:
                return self._break(seq, f"dated in the future ({at})")
            if is_erasure:
                for erased in erased_seqs(data):
                    self.erasures.setdefault(erased, (seq, at))
            self._anchors((seq,), (own_hash,))
            if found.broken:
                return False
            found.prev_seq, found.prev_hash = seq, own_hash
            found.count += 1
        return True

    def _break(self, seq: int, reason: str) -> bool:
        self.found.broken = (seq, reason)
        return False


def check(
    batches: Iterator[list[tuple[Any, ...]]],
    expect: Mapping[int, tuple[str, str]],
    now: str | None,
    prev_hash: str | None,
) -> Stretch:
    """Check rows batch by batch until the first break."""
    checker = ChainChecker(expect, now, prev_hash)
    for rows in batches:
        if not checker.batch(rows) or checker.found.broken:
            break
    return checker.result()


def _batches(job: Mapping[str, Any]) -> Iterator[list[tuple[Any, ...]]]:
    """The job's query, on a connection of this worker's own: SQLite read-only; PostgreSQL in the
    snapshot the caller exported, so every worker reads the same moment of the table."""
    size = int(job["batch"])
    if job["backend"] == "sqlite":
        import sqlite3
        from pathlib import Path

        connection: Any = sqlite3.connect(Path(job["database"]).resolve().as_uri() + "?mode=ro", uri=True)
        cursor = connection.cursor()
    else:
        import psycopg
        from psycopg import sql

        connection = psycopg.connect(job["database"])
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(job["snapshot"])))
        cursor = connection.cursor(name="records_verify_stretch")
        cursor.itersize = size
    try:
        cursor.execute(job["query"])
        while batch := cursor.fetchmany(size):
            yield batch
    finally:
        cursor.close()
        connection.close()


def main() -> None:
    """A worker: one job as JSON on stdin, its ``Stretch`` as JSON on stdout."""
    job = json.load(sys.stdin)
    expect = {int(seq): (digest_hex, anchor) for seq, digest_hex, anchor in job["expect"]}
    stretch = check(_batches(job), expect, job["now"], None)
    json.dump(asdict(stretch), sys.stdout)


if __name__ == "__main__":
    main()

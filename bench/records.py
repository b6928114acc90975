"""Benchmark of the records log: what hash-chaining costs on append, and how long a full verify takes.

Why this exists: every workflow step writes through ``storage.records.append`` and an auditor runs
``storage.records.verify`` over the whole log, so both must stay cheap as the log grows. The append
figures are only meaningful next to a baseline, so the same rows are also written with plain
SQLAlchemy Core inserts (values computed beforehand, no hashing, no head lookup, no lock) into the
same table of the same database, in transactions of the same size. A third column runs the same Core
insert inside an ORM Session transaction, the way workflows hold their transactions, to tell the
cost of the Session from the cost of the records log. The methods are alternated over several rounds
(ABC, CBA, ...) so that table growth, caches and noise hit all alike.

Run: ``.venv/bin/python bench/records.py [--database-url URL ...] [--rows N] [--verify-rows N] [--write]``

``--database-url`` may be given more than once. ``sqlite`` (the default) means a temporary SQLite
file; a PostgreSQL URL names a server and a database to connect to for administration: the bench
creates its own ``bench_<random>`` database there and drops it afterwards. A SQLite URL must name a
file that does not exist yet, so a benchmark never runs on data that matters.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage import records
from storage.db import is_postgresql, make_engine, make_sessions, normalise_url
from storage.migrate import upgrade
from storage.models.records import Record

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Records log: append and verify"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PROCESSES = ("INC", "RSK", "DOC", "AUD", "SUP", "CHG", "ACC", "COM")
ACTORS = ("U0ALICE", "U0SAM", "U0HANA", "U0ERIN", "U0OLGA", "system")
# Verify is filled in transactions this large; append is called once per transaction.
FILL_TRANSACTION = 50_000


# ---------------------------------------------------------------------------------------- the rows


def entries(start: int, count: int) -> list[records.Entry]:
    """Realistic, distinct entries (a few hundred bytes of data, a third with retention)."""
    made = []
    for i in range(start, start + count):
        process = PROCESSES[i % len(PROCESSES)]
        made.append(
            records.Entry(
                at=START + timedelta(milliseconds=37 * i),
                actor=ACTORS[i % len(ACTORS)],
                process=process,
                action="incident.triaged" if i % 2 else "incident.reported",
                subject_type="incident",
                subject_id=f"{process}-{i:08d}",
                data={
                    "title": f"Suspicious login on laptop {i % 977} after travel",
                    "severity": ("low", "medium", "high")[i % 3],
                    "reporter": ACTORS[(i + 1) % len(ACTORS)],
                    "channel": "C0TRIAGE",
                    "summary": "User saw an MFA prompt they did not start; password reset and sessions revoked.",
                    "assets": [f"LT-{i % 977:04d}", "okta"],
                    "slack_ts": f"{1767600000 + i}.{i % 1_000_000:06d}",
                },
                retain_until=START + timedelta(days=3 * 365) if i % 3 == 0 else None,
            )
        )
    return made


def chained_rows(batch: Sequence[records.Entry], seq: int, prev: str) -> list[dict[str, Any]]:
    """The exact rows ``records.append`` writes for ``batch`` after head (seq, prev).

    Computed before the clock starts, so the Core baseline pays for inserting only. Because they
    continue the chain, ``verify`` at the end proves both paths wrote identical rows.
    """
    rows = []
    for entry in batch:
        seq += 1
        data = records.canonical_json(entry.data)
        data_hash = records.sha256(data)
        own = records.record_hash(
            seq,
            entry.at,
            entry.actor,
            entry.process,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            data_hash,
            prev,
            entry.retain_until,
        )
        rows.append(
            {
                "seq": seq,
                "at": entry.at,
                "actor": entry.actor,
                "process": entry.process,
                "action": entry.action,
                "subject_type": entry.subject_type,
                "subject_id": entry.subject_id,
                "data": data,
                "data_hash": data_hash,
                "prev_hash": prev,
                "hash": own,
                "retain_until": entry.retain_until,
                "erased_at": None,
            }
        )
        prev = own
    return rows


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def head(engine: Engine) -> tuple[int, str]:
    with engine.connect() as connection:
        row = connection.execute(text("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1")).first()
    return (row.seq, row.hash) if row else (0, records.GENESIS)


# ----------------------------------------------------------------------------------- measuring


@dataclass
class Throughput:
    rows: int = 0
    seconds: float = 0.0

    def add(self, rows: int, seconds: float) -> None:
        self.rows += rows
        self.seconds += seconds

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds


@dataclass
class AppendResult:
    per_transaction: int
    append: Throughput
    core: Throughput
    session_core: Throughput

    @property
    def ratio(self) -> float:
        return self.append.per_second / self.core.per_second


@dataclass
class VerifyResult:
    count: int
    fill_seconds: float
    verify_runs: list[float]

    @property
    def verify_seconds(self) -> float:
        """The median run: the machine is shared, so a single run can be off by a third."""
        return statistics.median(self.verify_runs)


@dataclass
class BackendResult:
    label: str
    server_version: str
    appends: list[AppendResult]
    verify: VerifyResult


class AppendBench:
    """Writes fresh numbered entries through each path, so no two rounds write the same seq."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]):
        self.engine = engine
        self.sessions = sessions
        self.next_entry = 0

    def _take(self, count: int) -> list[records.Entry]:
        batch = entries(self.next_entry, count)
        self.next_entry += count
        return batch

    def via_append(self, count: int, per_transaction: int) -> float:
        batch = self._take(count)
        started = time.perf_counter()
        for chunk in chunks(batch, per_transaction):
            with self.sessions.begin() as session:
                records.append(session, chunk)
        return time.perf_counter() - started

    def via_core(self, count: int, per_transaction: int) -> float:
        return self._insert(count, per_transaction, self.engine.begin)

    def via_session_core(self, count: int, per_transaction: int) -> float:
        return self._insert(count, per_transaction, self.sessions.begin)

    def _insert(self, count: int, per_transaction: int, transaction: Callable[[], Any]) -> float:
        rows = chained_rows(self._take(count), *head(self.engine))
        statement = insert(Record.__table__)
        started = time.perf_counter()
        for chunk in chunks(rows, per_transaction):
            with transaction() as connection_or_session:
                connection_or_session.execute(statement, list(chunk))
        return time.perf_counter() - started

    def compare(self, count: int, per_transaction: int, rounds: int) -> AppendResult:
        order = (("append", self.via_append), ("core", self.via_core), ("session_core", self.via_session_core))
        for _, run in order:  # warm up every path (statement caches, pool, pages)
            run(min(count, 2 * per_transaction), per_transaction)
        result = AppendResult(per_transaction, Throughput(), Throughput(), Throughput())
        for round_no in range(rounds):
            for name, run in order if round_no % 2 == 0 else reversed(order):
                getattr(result, name).add(count, run(count, per_transaction))
        return result


def clear_records(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE records" if is_postgresql(engine) else "DELETE FROM records"))


def fill_and_verify(engine: Engine, sessions: sessionmaker[Session], count: int, repeats: int) -> VerifyResult:
    clear_records(engine)
    started = time.perf_counter()
    for start in range(0, count, FILL_TRANSACTION):
        with sessions.begin() as session:
            records.append(session, entries(start, min(FILL_TRANSACTION, count - start)))
    result = VerifyResult(count, time.perf_counter() - started, [])
    for _ in range(repeats):
        started = time.perf_counter()
        with sessions() as session:
            outcome = records.verify(session)
        result.verify_runs.append(time.perf_counter() - started)
        if not outcome.ok or outcome.count != count:
            raise SystemExit(f"verify found a problem in freshly written records: {outcome}")
    return result


def run_backend(label: str, url: str, args: argparse.Namespace) -> BackendResult:
    engine = make_engine(url)
    try:
        upgrade(engine)
        sessions = make_sessions(engine)
        bench = AppendBench(engine, sessions)
        appends = [
            bench.compare(args.single_rows, 1, args.rounds),
            bench.compare(args.rows, 1000, args.rounds),
        ]
        with sessions() as session:
            chain = records.verify(session)
        if not chain.ok or chain.count != bench.next_entry:
            raise SystemExit(f"append and Core rows differ: {chain}")
        with engine.connect() as connection:
            version = connection.execute(
                text("SHOW server_version" if is_postgresql(engine) else "SELECT sqlite_version()")
            ).scalar_one()
        return BackendResult(
            label, str(version), appends, fill_and_verify(engine, sessions, args.verify_rows, args.verify_repeats)
        )
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------ databases


@contextmanager
def fresh_database(target: str) -> Iterator[tuple[str, str]]:
    """Yield (label, url) of an empty database that belongs to this run alone."""
    if target == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench_records_") as folder:
            yield "SQLite (temporary file)", f"sqlite:///{folder}/bench.db"
        return
    url = make_url(normalise_url(target))
    if url.get_backend_name() == "sqlite":
        if not url.database or Path(url.database).exists():
            raise SystemExit(f"{target}: give a SQLite file that does not exist yet")
        yield "SQLite", url.render_as_string(hide_password=False)
        return
    name = "bench_" + uuid.uuid4().hex[:12]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield "PostgreSQL", url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -------------------------------------------------------------------------------------- report


def machine(results: Sequence[BackendResult], load: tuple[float, float, float]) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    postgres = [r.server_version for r in results if r.label == "PostgreSQL"]
    return [
        f"- Date: {datetime.now(UTC).strftime('%a %b %d %H:%M:%S UTC %Y')}",
        f"- Machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
        f"{mem_kb / 1024 / 1024:.1f} GiB RAM, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL server {postgres[0] if postgres else 'not used in this run'}",
    ]


def render(
    results: Sequence[BackendResult],
    args: argparse.Namespace,
    command: str,
    load: tuple[float, float, float],
) -> str:
    lines = [f"## {HEADING}", "", *machine(results, load), f"- Command: `{command}`", ""]
    lines += [
        f"Append: {args.rounds} alternating rounds per method (ABC, CBA, ...), {args.single_rows:,} rows "
        f"per round at 1 row per transaction, {args.rows:,} rows per round at 1,000 rows per transaction. "
        "Core = the same rows, computed beforehand, inserted with SQLAlchemy Core into the same table "
        "(`engine.begin()`); Core in Session = that insert inside `sessionmaker.begin()`, the transaction "
        "workflows use. Ratio = records.append / Core.",
        "",
        "| Backend | Rows per transaction | records.append rows/s | Core insert rows/s | Ratio "
        "| Core in Session rows/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for a in result.appends:
            lines.append(
                f"| {result.label} | {a.per_transaction:,} | {a.append.per_second:,.0f} | "
                f"{a.core.per_second:,.0f} | {a.ratio:.2f} | {a.session_core.per_second:,.0f} |"
            )
    lines += [
        "",
        f"Verify: the table is emptied, filled through records.append in transactions of {FILL_TRANSACTION:,} "
        f"records, then records.verify checks every record in one session, {args.verify_repeats} times; "
        "time and rate are of the median run.",
        "",
        "| Backend | Records verified | Fill with records.append (rows/s) | verify time (s) | verify records/s "
        "| All runs (s) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        v = result.verify
        lines.append(
            f"| {result.label} | {v.count:,} | {v.count / v.fill_seconds:,.0f} | "
            f"{v.verify_seconds:.2f} | {v.count / v.verify_seconds:,.0f} | "
            f"{', '.join(f'{run:.2f}' for run in v.verify_runs)} |"
        )
    return "\n".join(lines) + "\n"


def write_results(report: str) -> None:
    """Append, never overwrite: other benchmarks add their own sections to the same file."""
    with RESULTS.open("a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write("# Benchmark results\n")
        out.write("\n" + report)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        action="append",
        dest="targets",
        help="'sqlite' (temporary file, the default), a new SQLite file, or a PostgreSQL "
        "server URL (a bench_<random> database is created there); repeatable",
    )
    parser.add_argument(
        "--rows", type=int, default=30_000, help="rows per round and method at 1,000 rows per transaction"
    )
    parser.add_argument(
        "--single-rows", type=int, default=2_000, help="rows per round and method at 1 row per transaction"
    )
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per method")
    parser.add_argument("--verify-rows", type=int, default=1_000_000, help="records to fill and verify")
    parser.add_argument("--verify-repeats", type=int, default=3, help="verify runs; the median is reported")
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    load = os.getloadavg()
    results = []
    for target in args.targets or ["sqlite"]:
        with fresh_database(target) as (label, url):
            print(f"running on {label} ...", file=sys.stderr, flush=True)
            results.append(run_backend(label, url, args))
    command = shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv])
    report = render(results, args, command, load)
    print(report)
    if args.write:
        write_results(report)


if __name__ == "__main__":
    main()

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
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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


def plain_rows(batch: Sequence[records.Entry]) -> list[dict[str, Any]]:
    """The exact rows ``records.append`` writes for ``batch`` (unlinked; the database numbers them).

    Computed before the clock starts, so the Core baseline pays for inserting only. The linker chains
    both kinds alike, and ``verify`` at the end proves both paths wrote rows of the same shape.
    """
    rows = []
    for entry in batch:
        data = records.canonical_json(entry.data)
        rows.append(
            {
                "at": entry.at,
                "actor": entry.actor,
                "process": entry.process,
                "action": entry.action,
                "subject_type": entry.subject_type,
                "subject_id": entry.subject_id,
                "data": data,
                "data_hash": records.sha256(data),
                "retain_until": entry.retain_until,
            }
        )
    return rows


def legacy_append(session: Session, batch: Sequence[records.Entry]) -> None:
    """The append before issue 10, for the concurrency comparison: a PostgreSQL advisory lock held to
    commit, the head read, and every hash computed in the writer's transaction."""
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(360054785)"))
    row = session.execute(text("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1")).first()
    seq, prev = (row.seq, row.hash) if row else (0, records.GENESIS)
    rows = []
    for entry, plain in zip(batch, plain_rows(batch), strict=True):
        seq += 1
        own = records.record_hash(
            seq,
            entry.at,
            entry.actor,
            entry.process,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            plain["data_hash"],
            prev,
            entry.retain_until,
        )
        rows.append({**plain, "seq": seq, "prev_hash": prev, "hash": own})
        prev = own
    session.execute(insert(Record.__table__), rows)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
    one_process_runs: list[float] = field(default_factory=list)
    link_seconds: float = 0.0
    export_bytes: int = 0
    sha256sum_runs: list[float] = field(default_factory=list)

    @property
    def sha256sum_seconds(self) -> float:
        return statistics.median(self.sha256sum_runs)

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
    concurrency: list[ConcurrencyResult]


@dataclass
class ConcurrencyResult:
    method: str
    threads: int
    rows: int
    seconds: float
    latencies: list[float]

    @property
    def p99_ms(self) -> float:
        return 1000 * statistics.quantiles(self.latencies, n=100)[98]


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
        rows = plain_rows(self._take(count))
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
        if is_postgresql(engine):
            connection.execute(text("TRUNCATE records, record_seals RESTART IDENTITY"))
        else:
            connection.execute(text("DELETE FROM records"))
            connection.execute(text("DELETE FROM record_seals"))


def link_all(sessions: sessionmaker[Session]) -> float:
    started = time.perf_counter()
    with sessions.begin() as session:
        records.link_pending(session, datetime.now(UTC), records.Anchors())
    return time.perf_counter() - started


def concurrent_appends(
    engine: Engine, sessions: sessionmaker[Session], method: str, threads: int, per_thread: int
) -> ConcurrencyResult:
    """``threads`` writers, one record per transaction each, at once; then link and verify."""
    clear_records(engine)
    write = legacy_append if method == "before (advisory lock)" else records.append
    latencies: list[float] = []
    barrier = threading.Barrier(threads + 1)

    def writer(n: int) -> None:
        batch = entries(n * per_thread, per_thread)
        barrier.wait()
        for entry in batch:
            started = time.perf_counter()
            with sessions.begin() as session:
                write(session, [entry])
            latencies.append(time.perf_counter() - started)

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - started
    link_all(sessions)
    with sessions() as session:
        outcome = records.verify(session)
    if not outcome.ok or outcome.count != threads * per_thread or outcome.unlinked:
        raise SystemExit(f"concurrent appends ({method}) left a broken or incomplete chain: {outcome}")
    return ConcurrencyResult(method, threads, threads * per_thread, seconds, latencies)


def export_and_hash(sessions: sessionmaker[Session], repeats: int) -> tuple[int, list[float]]:
    """Write the JSONL export as ``records export`` does and time ``sha256sum`` of it (the baseline)."""
    with tempfile.TemporaryDirectory(prefix="bench_export_") as folder:
        path = Path(folder) / "records.jsonl"
        with sessions() as session, path.open("w", encoding="utf-8") as out:
            for row in records.export_rows(session):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
            runs.append(time.perf_counter() - started)
        return path.stat().st_size, runs


def fill_and_verify(engine: Engine, sessions: sessionmaker[Session], count: int, repeats: int) -> VerifyResult:
    clear_records(engine)
    started = time.perf_counter()
    for start in range(0, count, FILL_TRANSACTION):
        with sessions.begin() as session:
            records.append(session, entries(start, min(FILL_TRANSACTION, count - start)))
    result = VerifyResult(count, time.perf_counter() - started, [])
    result.link_seconds = link_all(sessions)
    for _ in range(repeats):  # alternating: as `records verify` runs (workers by CPU), and in one process
        for runs, workers in ((result.verify_runs, None), (result.one_process_runs, 1)):
            started = time.perf_counter()
            with sessions() as session:
                outcome = records.verify(session, workers=workers)
            runs.append(time.perf_counter() - started)
            if not outcome.ok or outcome.count != count:
                raise SystemExit(f"verify found a problem in freshly written records: {outcome}")
    result.export_bytes, result.sha256sum_runs = export_and_hash(sessions, repeats)
    return result


def run_backend(label: str, url: str, args: argparse.Namespace) -> BackendResult:
    engine = make_engine(url, pool_size=args.threads + 2)
    try:
        upgrade(engine)
        sessions = make_sessions(engine)
        bench = AppendBench(engine, sessions)
        appends = [
            bench.compare(args.single_rows, 1, args.rounds),
            bench.compare(args.rows, 1000, args.rounds),
        ]
        link_all(sessions)
        with sessions() as session:
            chain = records.verify(session)
        if not chain.ok or chain.count != bench.next_entry or chain.unlinked:
            raise SystemExit(f"append and Core rows differ: {chain}")
        with engine.connect() as connection:
            version = connection.execute(
                text("SHOW server_version" if is_postgresql(engine) else "SELECT sqlite_version()")
            ).scalar_one()
        concurrency = []
        for method in ("before (advisory lock)", "records.append (linker)") * 2:
            concurrency.append(concurrent_appends(engine, sessions, method, args.threads, args.per_thread))
        return BackendResult(
            label,
            str(version),
            appends,
            fill_and_verify(engine, sessions, args.verify_rows, args.verify_repeats),
            concurrency,
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
        "records, linked by records.link_pending (one call), then records.verify checks every record in one "
        f"session, {args.verify_repeats} times as `records verify` runs it (a log of "
        f"{records.PARALLEL_FROM:,} records or more in worker processes, one per CPU up to 4: here "
        f"{min(os.cpu_count() or 1, 4)}), alternating with a verify in one process; the same records are "
        "exported as `records export` writes them "
        "(JSONL) and `sha256sum` of that file is timed as the baseline. Times are of the median run.",
        "",
        "| Backend | Records | Fill with records.append (rows/s) | Link (s) | verify (s) | Export (MB) "
        "| sha256sum of export (s) | verify / sha256sum | verify runs (s) | one process (s) "
        "| one process / sha256sum |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for result in results:
        v = result.verify
        lines.append(
            f"| {result.label} | {v.count:,} | {v.count / v.fill_seconds:,.0f} | {v.link_seconds:.2f} | "
            f"{v.verify_seconds:.2f} | {v.export_bytes / 1e6:,.0f} | {v.sha256sum_seconds:.2f} | "
            f"{v.verify_seconds / v.sha256sum_seconds:.2f} | {', '.join(f'{run:.2f}' for run in v.verify_runs)} | "
            f"{statistics.median(v.one_process_runs):.2f} | "
            f"{statistics.median(v.one_process_runs) / v.sha256sum_seconds:.2f} |"
        )
    lines += [
        "",
        f"Concurrency: {args.threads} threads start together, each appending {args.per_thread:,} records, one "
        "per transaction (`sessionmaker.begin()`), alternating methods (ABAB); then the linker runs once and "
        "verify must find every record chained. Before = the previous append (advisory lock to commit, head "
        "read, hashes in the writer's transaction), reproduced in the bench; after = records.append.",
        "",
        "| Backend | Method | Threads | Rows | rows/s | p99 transaction (ms) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for c in result.concurrency:
            lines.append(
                f"| {result.label} | {c.method} | {c.threads} | {c.rows:,} | {c.rows / c.seconds:,.0f} | "
                f"{c.p99_ms:.1f} |"
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
    parser.add_argument("--threads", type=int, default=8, help="concurrent writers, one record per transaction")
    parser.add_argument("--per-thread", type=int, default=300, help="transactions per concurrent writer and round")
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

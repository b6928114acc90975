"""Benchmark: ``/isms status`` and the monthly report at 10k, 100k and 1M records.

Why this exists: the ISMS manager's status answer and the monthly report aggregate every process's
tables. They must stay fast as the store grows (aim: under 200 ms at 1M records, and 1M no more than
4x 10k), which needs aggregate queries over indexed columns and no per-row Python.

What runs, per database (a temporary SQLite file, or a new PostgreSQL database created and dropped)
and per size N (records in all tables together), in realistic proportions over three years of
history ending at a fixed "now" (Mon 23 Nov 2026 09:00 UTC):

- 12% incidents (1% of them open, reported in the last 30 days; the rest closed or not incidents,
  with triage and resolution times), a running regulatory clock for a tenth of the open ones;
- 30% evidence requests over the 17 processes (the ones due ahead open; of those past due 90%
  accepted, 5% submitted waiting for review, 5% overdue), and 22% submissions answering them;
- 6% changes (8% open across the states, the rest verified, declined or failed);
- 30% records-log rows (their hashes are not a chain: nothing here verifies it).

Seeding uses SQLAlchemy Core ``INSERT ... VALUES`` in batches of 10,000 rows (no ORM objects), then
``ANALYZE`` (PostgreSQL: ``VACUUM ANALYZE``, as autovacuum would have done to a store this old).

Measured, in the same run, median of 7 after a warm-up:
- ``/isms status`` as the ISMS manager, through the router (as Slack and the console ask it),
  rendered to Block Kit;
- the monthly report of the month before (``reports.build`` + ``render`` to HTML);
- baseline: the same SQL statements those two issue (captured from the engine during a run), replayed
  as raw driver SQL on a plain connection, with their rows fetched: what the aggregates cost the
  database, without any of our Python.

Run: ``.venv/bin/python bench/status.py [--size N ...] [--database-url URL ...] [--write]``
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select
from sqlalchemy.sql.schema import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine
from bench.tick import Clock, fresh_database
from bot.runtime import build_runtime
from bot.slack.blocks import message_blocks
from config.settings import load_settings
from storage import migrate
from storage.db import make_engine
from storage.models import Change, EvidenceRequest, EvidenceSubmission, Incident, Record
from storage.models.incidents import IncidentClock
from storage.outbox import Effect
from workflows.communication import reports
from workflows.kernel.actors import resolve_actor
from workflows.kernel.routing import Request
from workflows.performance import periods

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Status and monthly report at 10k, 100k and 1M records"
CHUNK = 10_000
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HISTORY = timedelta(days=3 * 365)
BASE_SIZE = 10_000
"""With ``--constant-rate`` the store of this size covers HISTORY, a larger one proportionally more
years: every size then has the same activity per quarter, and only the history grows."""
PROCESSES = (
    "GOV", "RA", "RT", "SUP", "OPS", "INC", "CHG", "AUD", "REV", "IMP", "COM", "REC", "PERF", "ASM", "HR", "DOC", "NC"
)  # fmt: skip
OWNERS = ("olga", "erin", "sam", "hana", "alice", "dora")
SEVERITIES = ("P1", "P2", "P3", "P4", "P3", "P4", "P4", "P4")
OPEN_CHANGE = ("risk-evaluation", "awaiting-approval", "approved", "in-implementation", "implemented")
CLOSED_CHANGE = ("verified",) * 8 + ("declined", "failed")


def spread(n: int, count: int, history: timedelta = HISTORY) -> datetime:
    """The n-th of ``count`` moments spread evenly over ``history``, newest last."""
    return NOW - history + history * ((n + 0.5) / count)


def put(engine: Engine, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    """Bulk insert in batches of ``CHUNK`` rows, one transaction each; the number inserted."""
    done = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            with engine.begin() as connection:
                connection.execute(insert(table), batch)
            done, batch = done + len(batch), []
    if batch:
        with engine.begin() as connection:
            connection.execute(insert(table), batch)
        done += len(batch)
    return done


def seed(engine: Engine, size: int, history: timedelta = HISTORY) -> dict[str, int]:
    n_inc, n_req, n_sub, n_chg = size * 12 // 100, size * 30 // 100, size * 22 // 100, size * 6 // 100
    n_rec = size - n_inc - n_req - n_sub - n_chg
    recent = NOW - timedelta(days=30)

    def incidents() -> Iterator[dict[str, Any]]:
        for n in range(n_inc):
            at = spread(n, n_inc, history)
            open_ = at >= recent and n % 12 == 0
            severity = SEVERITIES[n % len(SEVERITIES)]
            triaged = at + timedelta(minutes=20 + (n * 37) % 600)
            status = ("new" if n % 24 == 0 else "incident") if open_ else ("not_incident" if n % 5 == 0 else "closed")
            yield {
                "ref": f"INC-{at.year}-{n + 1:07d}",
                "year": at.year,
                "number": n + 1,
                "request_key": f"bench:{n}",
                "status": status,
                "reported_at": at,
                "reporter_id": OWNERS[n % len(OWNERS)],
                "reporter_name": "Bench",
                "reporter_to": f"person:{OWNERS[n % len(OWNERS)]}",
                "summary": f"Suspicious mail {n}",
                "noticed_at": at,
                "files": [],
                "severity": None if status in ("new", "not_incident") else severity,
                "handler_id": "sam" if status != "new" else None,
                "classified_at": None if status == "new" else triaged,
                "closed_at": triaged + timedelta(hours=2 + (n * 53) % 200) if status == "closed" else None,
                "revision": 0,
                "updated_at": at,
            }

    def requests() -> Iterator[dict[str, Any]]:
        for n in range(n_req):
            due = spread(n, n_req, history) + timedelta(days=30)  # the newest are due ahead
            past = due < NOW
            status = "open" if not past else ("accepted", "submitted", "open")[0 if n % 20 >= 2 else n % 20 + 1]

            yield {
                "id": n + 1,
                "activity_key": f"{PROCESSES[n % 17]}/activity-{n % 40}",
                "period": f"p{n}",
                "process": PROCESSES[n % 17],
                "title": f"Activity {n % 40} of {PROCESSES[n % 17]}",
                "evidence_kind": "text",
                "period_start": date(due.year, 1, 1),
                "period_end": date(due.year, 12, 31),
                "owner_id": OWNERS[n % len(OWNERS)],
                "status": status,
                "due_at": due,
                "created_at": due - timedelta(days=30),
                "round": 0,
                "step": 1,
                "next_action_at": due if status == "open" else None,
                "delegations": 0,
                "closed_at": due if status == "accepted" else None,
                "first_answer_at": answered.get(n + 1),  # as the evidence flow sets it with the answer
            }

    def submissions() -> Iterator[dict[str, Any]]:
        # answers to the past-due requests that are accepted or submitted, newest first, up to n_sub
        made = 0
        for n in reversed(range(n_req)):
            if made == n_sub:
                return
            due = spread(n, n_req, history) + timedelta(days=30)
            if due >= NOW or n % 20 in (1,):  # not due yet, or the overdue ones
                continue
            waiting = n % 20 == 0
            at = due - timedelta(days=2) if n % 7 else due + timedelta(days=3)  # 1 in 7 late
            made += 1
            yield {
                "request_id": n + 1,
                "round": 0,
                "submitted_by": OWNERS[n % len(OWNERS)],
                "submitted_at": at,
                "not_applicable": False,
                "text": f"Evidence {n}",
                "decision": None if waiting else "accepted",
                "decided_by": None if waiting else "alice",
                "decided_at": None if waiting else at + timedelta(hours=5),
            }

    def changes() -> Iterator[dict[str, Any]]:
        for n in range(n_chg):
            at = spread(n, n_chg, history)
            open_ = n % 12 == 0
            state = OPEN_CHANGE[n % len(OPEN_CHANGE)] if open_ else CLOSED_CHANGE[n % len(CLOSED_CHANGE)]
            yield {
                "ref": f"CHG-{n + 1:07d}",
                "title": f"Change {n}",
                "description": "d",
                "reason": "r",
                "origin_process": "INC",
                "origin_ref": f"INC-{n + 1}",
                "priority": "medium",
                "state": state,
                "requester": OWNERS[n % len(OWNERS)],
                "requester_to": f"person:{OWNERS[n % len(OWNERS)]}",
                "created_at": at,
                "updated_at": at,
                "closed_at": None if open_ else at + timedelta(days=3 + n % 40),
                "tracker": "local",
                "tracker_key": f"LOCAL-{n + 1}",
                "significant": False,
            }

    def records() -> Iterator[dict[str, Any]]:
        for n in range(n_rec):
            yield {
                "at": spread(n, n_rec, history),
                "actor": OWNERS[n % len(OWNERS)],
                "process": PROCESSES[n % 17],
                "action": "created",
                "subject_type": "item",
                "subject_id": str(n),
                "data": "{}",
                "data_hash": "0" * 64,
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
            }

    answered = {row["request_id"]: row["submitted_at"] for row in submissions()}  # each request's one answer
    counts = {
        "incidents": put(engine, Incident.__table__, incidents()),  # type: ignore[arg-type]
        "evidence requests": put(engine, EvidenceRequest.__table__, requests()),  # type: ignore[arg-type]
        "submissions": put(engine, EvidenceSubmission.__table__, submissions()),  # type: ignore[arg-type]
        "changes": put(engine, Change.__table__, changes()),  # type: ignore[arg-type]
        "records": put(engine, Record.__table__, records()),  # type: ignore[arg-type]
    }
    with engine.connect() as connection:
        open_ids = list(connection.scalars(select(Incident.id).where(Incident.status == "incident")))
    counts["clocks"] = put(
        engine,
        IncidentClock.__table__,  # type: ignore[arg-type]
        (
            {
                "incident_id": i,
                "kind": "gdpr",
                "started_at": NOW - timedelta(hours=10),
                "due_at": NOW + timedelta(hours=62),
            }
            for i in open_ids[::10]
        ),
    )
    # A store that grew to this size over three years has been vacuumed by autovacuum many times; a bulk
    # load just before measuring has not, and PostgreSQL's index-only scans would fetch every heap row
    # (the visibility map is empty). So PostgreSQL gets VACUUM ANALYZE, SQLite ANALYZE.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
        return counts
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    return counts


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) the engine runs inside the block."""
    statements: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


def replay(engine: Engine, statements: list[tuple[str, Any]]) -> Callable[[], None]:
    """The captured statements as raw driver SQL on one plain DBAPI connection, rows fetched."""
    reads = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]

    def run() -> None:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for sql, params in reads:
                cursor.execute(sql, params)
                cursor.fetchall()
            raw.rollback()
        finally:
            raw.close()

    return run


def timed(call: Callable[[], Any], repeat: int = 7) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


Row = tuple[int, dict[str, int], float, float, float, float, int, int]


def run(target: str, size: int, history: timedelta = HISTORY) -> tuple[str, Row]:
    with fresh_database(target) as (backend, url):
        engine = make_engine(url)
        migrate.upgrade(engine)
        started = time.perf_counter()
        counts = seed(engine, size, history)
        seeding = time.perf_counter() - started
        print(f"  {size:,} records seeded in {seeding:.0f} s: {counts}", file=sys.stderr, flush=True)

        def chat(ctx: object) -> Any:
            def send(effect: Effect) -> dict[str, Any]:
                return {}

            return send

        runtime = build_runtime(load_settings(ISMS_DATABASE_URL=url), chat, clock=Clock(NOW))
        ctx, router = runtime.ctx, runtime.router
        alice = resolve_actor(ctx.org, email="alice@example.org")
        last_month = periods.month_of(periods.month_of(NOW, ctx.org.zone).start - timedelta(days=1), ctx.org.zone)

        def status() -> int:
            outcome = router.command(ctx, "/isms", Request(alice, "bench", text="status"))
            assert outcome.reply is not None and outcome.reply.text.startswith("ISMS status"), outcome.reply
            return len(message_blocks(outcome.reply))

        def monthly() -> int:
            return len(reports.render(ctx, reports.build(ctx, "monthly", last_month, NOW), "html"))

        blocks = status()
        html = monthly()
        with captured(runtime.engine) as status_sql:
            status()
        with captured(runtime.engine) as monthly_sql:
            monthly()
        row: Row = (
            size,
            counts,
            timed(status),
            timed(replay(runtime.engine, status_sql)),
            timed(monthly),
            timed(replay(runtime.engine, monthly_sql)),
            blocks,
            html,
        )
        runtime.engine.dispose()
        engine.dispose()
        return backend, row


def report(results: Sequence[tuple[str, Row]], command: str, seeded: str) -> str:
    lines = [f"## {HEADING}", "", *machine(), f"- Command: `{command}`", ""]
    lines += [
        "Records = rows in all tables together (12% incidents, 30% evidence requests, 22% submissions, "
        "6% changes, 30% records log) over three years unless said otherwise below; "
        + seeded
        + " `/isms status` = the ISMS manager's answer through the router, rendered to Block Kit; monthly = "
        "`reports.build` + HTML of the month before. Raw SQL = the same SELECTs those issue, replayed as "
        "driver SQL on a plain connection with rows fetched (the database's share). Median of 7 after a "
        "warm-up.",
        "",
        "| Backend | Records | `/isms status` (ms) | its raw SQL (ms) | Monthly report (ms) | its raw SQL (ms) "
        "| Blocks | HTML bytes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, (size, _, st, st_raw, mo, mo_raw, blocks, html) in results:
        lines.append(
            f"| {backend} | {size:,} | {st * 1000:.1f} | {st_raw * 1000:.1f} | {mo * 1000:.1f} "
            f"| {mo_raw * 1000:.1f} | {blocks} | {html:,} |"
        )
    by_backend: dict[str, dict[int, Row]] = {}
    for backend, row in results:
        by_backend.setdefault(backend, {})[row[0]] = row
    lines.append("")
    for backend, rows in by_backend.items():
        smallest, largest = min(rows), max(rows)
        if smallest != largest:
            a, b = rows[smallest], rows[largest]
            lines.append(
                f"- {backend}: {largest:,} vs {smallest:,}: status x{b[2] / a[2]:.1f}, monthly x{b[4] / a[4]:.1f}."
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, action="append", dest="sizes")
    parser.add_argument("--database-url", action="append", dest="targets")
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    parser.add_argument(
        "--constant-rate",
        action="store_true",
        help=f"every size with the activity per quarter of {BASE_SIZE:,} records over three years: only the "
        "history grows (default: every size over three years, so the current quarter grows with it)",
    )
    args = parser.parse_args(argv)
    results = []
    for target in args.targets or ["sqlite"]:
        for size in args.sizes or [10_000, 100_000, 1_000_000]:
            print(f"running {size:,} on {target} ...", file=sys.stderr, flush=True)
            history = HISTORY * (size / BASE_SIZE) if args.constant_rate else HISTORY
            results.append(run(target, size, history))
    seeded = "seeded with Core bulk inserts, then ANALYZE."
    if args.constant_rate:
        seeded += (
            f" Constant rate: {BASE_SIZE:,} records cover three years and a larger store proportionally more "
            "(1M: 300 years), so every size has the same activity in the current quarter and only the history "
            "grows."
        )
    text_report = report(
        results, shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv]), seeded
    )
    print(text_report)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text_report)


if __name__ == "__main__":
    main()

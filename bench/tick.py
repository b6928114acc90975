"""Benchmark: the scheduler's tick grows with what is due, not with what is open.

Why this exists: every minute the leader runs the due work of every process (incident timers, the
evidence ladder, the Jira poll, the retention sweep). With 10k open items it used to take 15-26 s,
because due work was handled one item per transaction. Now due work is found by indexed due times
and handled in batches of 200 per transaction, with records and outbox effects inserted in bulk.

What runs, per database (a temporary SQLite file, or a new PostgreSQL database created and dropped):
an organisation of 2,000 owners (quiet hours off, so the bench runs at any hour) and
``--open`` open items that are not due (45% incidents waiting for triage with their triage timer a
day ahead, 45% evidence requests whose next reminder is a day ahead, 10% open changes on the local
tracker), plus ``--due`` items whose time has come (half incident triage timers overdue, half evidence
requests whose 7-day reminder is due).

Measured, in the same run:
- idle tick: one tick (``run_due_work``, every process) while nothing is due, median of 5;
  baseline: a plain SQL ``count(*)`` of the due rows of both tables (what any tick must at least ask);
- due tick: one tick that handles every due item, with the number of transactions it used;
  baseline: the least any tick must write for them, in plain SQLAlchemy Core in one transaction
  (mark each item, insert one record per item and one outbox row per message the tick queued);
- correctness: nothing due is left after the tick, each message's key is queued once, and a second
  tick right after queues nothing.

Run: ``.venv/bin/python bench/tick.py [--open N] [--due N] [--database-url URL ...] [--write]``
"""

from __future__ import annotations

import argparse
import os
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine
from bot.runtime import Runtime, build_runtime
from config.settings import PACKAGED_EXAMPLE_ORG, load_settings
from storage import migrate
from storage.db import make_engine
from storage.models import Change, EvidenceRequest, Incident, OutboxEffect, Record
from storage.models.incidents import IncidentTimer
from storage.outbox import Effect
from workflows.kernel import batches
from workflows.kernel.process import run_due_work

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Scheduler tick: due work against open work"
PEOPLE = 2_000
CHUNK = 10_000


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def organisation(folder: Path) -> Path:
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["people"] += [
        {"id": f"p{n:05d}", "name": f"Person {n}", "slack_id": f"U{n:08d}", "roles": ["owner"], "manager": "olga"}
        for n in range(PEOPLE)
    ]
    org["activities"] = {"quiet_hours": {"enabled": False}}
    path = folder / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def _insert(runtime: Runtime, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        with runtime.ctx.sessions.begin() as session:
            session.execute(insert(model), rows[start : start + CHUNK])


def seed(runtime: Runtime, now: datetime, open_items: int, due_items: int) -> None:
    """``open_items`` not due (45% incidents, 45% evidence requests, 10% changes); ``due_items`` due
    (half incident timers, half evidence reminders)."""
    incidents_open, evidence_open = open_items * 45 // 100, open_items * 45 // 100
    changes_open = open_items - incidents_open - evidence_open
    incidents_due, evidence_due = due_items // 2, due_items - due_items // 2
    incidents = [
        {
            "ref": f"INC-2026-{n + 1:06d}",
            "year": 2026,
            "number": n + 1,
            "request_key": f"bench:{n}",
            "status": "new",
            "reported_at": now - timedelta(minutes=30),
            "reporter_id": f"p{n % PEOPLE:05d}",
            "reporter_name": f"Person {n % PEOPLE}",
            "reporter_to": f"person:p{n % PEOPLE:05d}",
            "summary": f"Suspicious mail number {n} asking for a password",
            "noticed_at": now - timedelta(minutes=40),
            "affected": "Mail",
            "files": [],
            "revision": 0,
            "updated_at": now - timedelta(minutes=30),
        }
        for n in range(incidents_open + incidents_due)
    ]
    _insert(runtime, Incident, incidents)
    with runtime.ctx.read() as session:
        ids = list(session.scalars(select(Incident.id).order_by(Incident.id)))
    timers = [
        {
            "incident_id": incident_id,
            "kind": "triage",
            "due_at": now - timedelta(minutes=1) if n < incidents_due else now + timedelta(days=1),
        }
        for n, incident_id in enumerate(ids)
    ]
    _insert(runtime, IncidentTimer, timers)
    requests = [
        {
            "activity_key": "RA/risk-review",
            "period": f"bench-{n}",
            "process": "RA",
            "title": "Review the risks you own",
            "clause": "27001:8.2",
            "evidence_kind": "text",
            "period_start": date(2026, 10, 1),
            "period_end": date(2026, 12, 31),
            "owner_id": f"p{n % PEOPLE:05d}",
            "status": "open",
            "due_at": now + timedelta(days=7),
            "created_at": now - timedelta(days=7),
            "asked_at": now - timedelta(days=7),
            "round": 0,
            "step": 1,
            "next_action_at": now - timedelta(minutes=1) if n < evidence_due else now + timedelta(days=1),
            "delegations": 0,
        }
        for n in range(evidence_open + evidence_due)
    ]
    _insert(runtime, EvidenceRequest, requests)
    changes = [
        {
            "ref": f"CHG-{n + 1}",
            "title": f"Change {n}",
            "description": "Rotate the keys",
            "reason": "Policy",
            "origin_process": "CHG",
            "origin_ref": f"CHG-{n + 1}",
            "priority": "medium",
            "state": "in_progress",
            "requester": f"p{n % PEOPLE:05d}",
            "requester_to": f"person:p{n % PEOPLE:05d}",
            "tracker": "local",
            "tracker_key": f"LOCAL-{n + 1}",
            "created_at": now - timedelta(days=3),
            "updated_at": now - timedelta(days=3),
        }
        for n in range(changes_open)
    ]
    _insert(runtime, Change, changes)
    with runtime.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")  # fresh statistics, as autovacuum would have by now
        connection.commit()


def due_count(runtime: Runtime, now: datetime) -> int:
    with runtime.ctx.read() as session:
        timers = session.scalar(
            select(func.count()).where(IncidentTimer.sent_at.is_(None), IncidentTimer.due_at <= now)
        )
        requests = session.scalar(
            select(func.count()).where(EvidenceRequest.next_action_at <= now, EvidenceRequest.status == "open")
        )
    return (timers or 0) + (requests or 0)


def floor_write(runtime: Runtime, now: datetime, items: int, messages: int) -> float:
    """The least the due tick must write, in plain Core, one transaction, rolled back afterwards."""
    records = [
        {
            "at": now,
            "actor": "system",
            "process": "INC",
            "action": "triage-overdue",
            "subject_type": "incident",
            "subject_id": f"INC-{n}",
            "data": '{"x":1}',
            "data_hash": "0" * 64,
        }
        for n in range(items)
    ]
    effects = [
        {
            "kind": "chat.message",
            "key": f"floor:{n}",
            "payload": {"to": "person:p00001", "message": {"text": "Reminder"}},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for n in range(messages)
    ]
    started = time.perf_counter()
    with runtime.engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(
            update(IncidentTimer)
            .where(IncidentTimer.sent_at.is_(None), IncidentTimer.due_at <= now)
            .values(sent_at=now)
        )
        connection.execute(
            update(EvidenceRequest)
            .where(EvidenceRequest.next_action_at <= now, EvidenceRequest.status == "open")
            .values(next_action_at=now + timedelta(days=6), step=2)
        )
        connection.execute(insert(Record), records)
        connection.execute(insert(OutboxEffect), effects)
        elapsed = time.perf_counter() - started
        transaction.rollback()
    return elapsed


@dataclass(frozen=True)
class Outcome:
    backend: str
    open_items: int
    due_items: int
    idle_tick: float
    idle_count: float
    due_tick: float
    floor: float
    transactions: int
    handled: int
    left_due: int
    queued: int
    second_tick_queued: int


@contextmanager
def fresh_database(target: str) -> Iterator[tuple[str, str]]:
    if target == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"SQLite {sqlite3.sqlite_version} (temporary file)", f"sqlite:///{folder}/tick.db"
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(target, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        version = connection.exec_driver_sql("SHOW server_version").scalar()
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            f"PostgreSQL {str(version).split()[0]}",
            make_url(target).set(database=name).render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _outbox(runtime: Runtime) -> int:
    with runtime.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEffect)) or 0


def run(target: str, open_items: int, due_items: int) -> Outcome:
    with fresh_database(target) as (backend, url), tempfile.TemporaryDirectory() as folder:
        migrate.upgrade(make_engine(url))
        settings = load_settings(ISMS_DATABASE_URL=url, ISMS_CONFIG=str(organisation(Path(folder))))
        now = datetime.now(UTC).replace(microsecond=0)
        clock = Clock(now - timedelta(hours=1))

        def chat(ctx: object) -> Any:
            def send(effect: Effect) -> dict[str, Any]:
                return {}

            return send

        runtime = build_runtime(settings, chat, clock=clock)
        print(f"  seeding {open_items:,} open and {due_items:,} due items ...", file=sys.stderr, flush=True)
        seed(runtime, now, open_items, due_items)

        run_due_work(runtime.ctx)  # warm up: imports, templates, statement caches
        idle = []
        for _ in range(5):
            started = time.perf_counter()
            run_due_work(runtime.ctx)
            idle.append(time.perf_counter() - started)
        counts = []
        for _ in range(5):
            started = time.perf_counter()
            due_count(runtime, now)
            counts.append(time.perf_counter() - started)
        assert _outbox(runtime) == 0, "the idle ticks queued something"

        clock.now = now
        assert due_count(runtime, now) == due_items
        reports: list[batches.BatchReport] = []
        original = batches.run_batches

        def counting(*args: Any, **kwargs: Any) -> batches.BatchReport:
            report = original(*args, **kwargs)
            reports.append(report)
            return report

        batches.run_batches = counting  # type: ignore[assignment]
        try:
            import workflows.evidence.ladder as ladder
            import workflows.incidents.scheduled as incident_timers

            ladder.run_batches = counting  # type: ignore[assignment]
            incident_timers.run_batches = counting  # type: ignore[assignment]
            started = time.perf_counter()
            run_due_work(runtime.ctx)
            due_tick = time.perf_counter() - started
        finally:
            batches.run_batches = original  # type: ignore[assignment]
            ladder.run_batches = original  # type: ignore[assignment]
            incident_timers.run_batches = original  # type: ignore[assignment]
        left = due_count(runtime, now)
        queued = _outbox(runtime)
        with runtime.ctx.read() as session:
            keys = session.scalar(select(func.count(func.distinct(OutboxEffect.key))))
        assert keys == queued
        run_due_work(runtime.ctx)
        second = _outbox(runtime) - queued

        clock.now = now + timedelta(seconds=1)
        floor = floor_write(runtime, now + timedelta(seconds=1), due_items, queued)
        runtime.engine.dispose()
        return Outcome(
            backend=backend,
            open_items=open_items,
            due_items=due_items,
            idle_tick=statistics.median(idle),
            idle_count=statistics.median(counts),
            due_tick=due_tick,
            floor=floor,
            transactions=sum(r.transactions for r in reports),
            handled=sum(r.handled for r in reports),
            left_due=left,
            queued=queued,
            second_tick_queued=second,
        )


def report(outcomes: Sequence[Outcome], command: str) -> str:
    lines = [f"## {HEADING}", "", *machine(), f"- Command: `{command}`", ""]
    lines += [
        "Open = items not due (45% incidents with a triage timer a day ahead, 45% evidence requests with "
        "their next reminder a day ahead, 10% open changes on the local tracker); due = items whose time has "
        "come (half overdue incident triage timers, half 7-day evidence reminders). Idle tick: one tick of "
        "every process while nothing is due, median of 5; baseline: a plain `count(*)` of the due rows. Due "
        "tick: one tick handling every due item in batches of 200 per transaction; baseline (floor): the "
        "least that tick must write, in plain Core in one transaction (an UPDATE of the due rows, one record "
        "per item, one outbox row per queued message). Left = due items still due after the tick; "
        "second tick = messages a second tick right after queued (must be 0).",
        "",
        "| Backend | Open | Due | Idle tick (ms) | count(*) of due (ms) | Due tick (s) | per item (ms) "
        "| Floor in Core (s) | Transactions | Messages queued | Left | Second tick |",
        "|" + " --- |" + " ---: |" * 11,
    ]
    for o in outcomes:
        lines.append(
            f"| {o.backend} | {o.open_items:,} | {o.due_items:,} | {o.idle_tick * 1000:.1f} | "
            f"{o.idle_count * 1000:.1f} | {o.due_tick:.2f} | {o.due_tick / max(o.due_items, 1) * 1000:.2f} | "
            f"{o.floor:.2f} | {o.transactions} | {o.queued:,} | {o.left_due} | {o.second_tick_queued} |"
        )
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="open items that are not due")
    parser.add_argument("--due", type=int, default=10_000, help="items due at the measured tick")
    parser.add_argument(
        "--database-url",
        action="append",
        dest="targets",
        help="'sqlite' (temporary file, the default) or a PostgreSQL server URL (a bench_<random> "
        "database is created there and dropped); repeatable",
    )
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    outcomes = []
    for target in args.targets or ["sqlite"]:
        print(f"running on {target} ...", file=sys.stderr, flush=True)
        outcomes.append(run(target, args.open, args.due))
    text_report = report(outcomes, shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv]))
    print(text_report)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text_report)


if __name__ == "__main__":
    main()

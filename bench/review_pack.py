"""Benchmark: assembling and rendering a management review's input pack at 10k, 100k and 1M records.

Why this exists: the pack (GOV, workflows/review/pack.py) reads every process's results for the year
since the previous review: the registers' and audits' records, the metrics of the period, the
incident and change registers. It must stay fast as the store grows, which needs grouped counts and
a LIMIT on indexed columns rather than reading a year of records into Python.

What runs, per database (a temporary SQLite file, or a new PostgreSQL database) and size N: the store
of ``bench/status.py`` (incidents, evidence, changes and records in its proportions over three years),
plus N/10 records of the kinds the pack reads (REQ, CRM, RA, RT register changes, RT acceptances, AUD
audits and findings, IMPR suggestions) spread over the same three years; one review a week ahead.
Measured: ``pack.assemble`` + ``pack.render`` (Markdown and HTML), median of 5 after a warm-up.

Run: ``.venv/bin/python bench/review_pack.py [--size N ...] [--database-url URL ...] [--write]``
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine
from bench.status import NOW, put, seed, spread
from bench.tick import Clock, fresh_database
from bot.runtime import build_runtime
from config.settings import load_settings
from storage import migrate
from storage.db import make_engine
from storage.models import Record, Review
from storage.outbox import Effect
from workflows.review import pack

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Management review input pack at 10k, 100k and 1M records"
KINDS = (
    ("REQ", "item-changed", '{"field": "owner", "old": "olga", "new": "erin"}'),
    ("CRM", "item-imported", '{"title": "Customer A"}'),
    ("CRM", "complaint", '{"text": "Slow answer"}'),
    ("RA", "item-changed", '{"field": "rating", "old": "low", "new": "high"}'),
    ("RT", "risk-accepted", '{"title": "Legacy VPN"}'),
    ("RT", "item-changed", '{"field": "status", "old": "planned", "new": "done"}'),
    ("AUD", "finding-raised", '{"kind": "minor", "clause": "A.5.15"}'),
    ("AUD", "finding-raised", '{"kind": "opportunity", "clause": "A.8.7"}'),
    ("AUD", "audit-reported", '{"title": "Yearly audit"}'),
    ("IMPR", "suggestion-made", '{"text": "Use passkeys"}'),
)


def gov_records(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        process, action, data = KINDS[n % len(KINDS)]
        yield {
            "at": spread(n, count),
            "actor": "alice",
            "process": process,
            "action": action,
            "subject_type": "item",
            "subject_id": f"{process}-{n}",
            "data": data,
            "data_hash": "0" * 64,
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }


def run(target: str, size: int) -> tuple[str, int, float, int, int]:
    with fresh_database(target) as (backend, url):
        engine = make_engine(url)
        migrate.upgrade(engine)
        seed(engine, size)
        put(engine, Record.__table__, gov_records(size // 10))  # type: ignore[arg-type]

        def chat(ctx: object) -> Any:
            def send(effect: Effect) -> dict[str, Any]:
                return {}

            return send

        runtime = build_runtime(load_settings(ISMS_DATABASE_URL=url), chat, clock=Clock(NOW))
        ctx = runtime.ctx
        with ctx.sessions.begin() as session:
            review = Review(
                ref="REV-2026-01",
                title="Management review",
                starts_at=NOW + timedelta(days=7),
                ends_at=NOW + timedelta(days=7, hours=2),
                chair="mia",
                attendees="mia,alice",
                location="",
                origin="chat",
                state="scheduled",
                pack_due_at=NOW,
                sequence=0,
                created_by="alice",
                created_at=NOW,
            )
            session.add(review)

        def build() -> int:
            with ctx.read() as session:
                found = session.query(Review).one()
                built = pack.assemble(session, ctx, found, NOW)
            return len(pack.render(ctx, built).html)

        html = build()
        times = []
        for _ in range(5):
            started = time.perf_counter()
            build()
            times.append(time.perf_counter() - started)
        runtime.engine.dispose()
        engine.dispose()
        return backend, size + size // 10, statistics.median(times) * 1000, html, size // 10


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="store size (default 10000 and 100000)")
    parser.add_argument("--database-url", action="append", help="sqlite or a PostgreSQL admin URL")
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    args = parser.parse_args(argv)
    rows = []
    for target in args.database_url or ["sqlite"]:
        for size in args.size or [10_000, 100_000]:
            rows.append(run(target, size))
            print(rows[-1], file=sys.stderr, flush=True)
    command = " ".join(shlex.quote(a) for a in ["bench/review_pack.py", *(argv or sys.argv[1:])])
    report = [
        f"\n## {HEADING}\n",
        *machine(),
        f"- Command: `.venv/bin/python {command}`\n",
        "Store = `bench/status.py`'s seeding plus a tenth more records of the kinds the pack reads, over "
        "three years. Time = `pack.assemble` + `pack.render` (Markdown and HTML) of a review a week "
        "ahead, whose period is the year before it; median of 5 after a warm-up.\n",
        "| Backend | Records | Pack (ms) | HTML bytes |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {backend} | {records:,} | {ms:.1f} | {html:,} |" for backend, records, ms, html, _ in rows),
    ]
    text = "\n".join(report) + "\n"
    print(text)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()

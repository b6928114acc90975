"""Benchmark: every list answer at 10k items fetches and renders one page, within Slack's limits.

Why this exists: ``/isms evidence all`` at 10k open requests used to fetch all of them, build 1.1 MB
of text and cut it to 3,000 characters. Lists now count with grouped queries and fetch one page.

What runs, per database (temporary SQLite file, or a new PostgreSQL database created and dropped):
10,000 open evidence requests (all of one owner, so the owner's own list is 10k long too), 10,000 open
incidents reported by one employee with 2,000 running GDPR clocks, 10,000 open changes, 10,000 dead
outbox effects. Each list is asked for through the router (as Slack and the console do), first page and
last page (through its "More" value), and rendered to Block Kit; median of 7 after a warm-up.
Baseline in the same run: the old way's first step alone, fetching every row of the list as ORM objects.

Run: ``.venv/bin/python bench/lists.py [--count N] [--database-url URL ...] [--write]``
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tick import Clock, fresh_database, machine
from bot.runtime import Runtime, build_runtime
from bot.slack.blocks import MAX_SECTION, message_blocks
from config.settings import load_settings
from storage import migrate
from storage.db import make_engine
from storage.models import Change, EvidenceRequest, Incident, OutboxEffect
from storage.models.incidents import IncidentClock
from storage.outbox import Effect
from workflows.kernel.actors import resolve_actor
from workflows.kernel.routing import Request
from workflows.kernel.ui import Outcome

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Lists at 10k items: one page, within Slack's limits"
CHUNK = 10_000


def seed(runtime: Runtime, now: datetime, count: int) -> None:
    def put(model: Any, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), CHUNK):
            with runtime.ctx.sessions.begin() as session:
                session.execute(insert(model), rows[start : start + CHUNK])

    put(
        EvidenceRequest,
        [
            {
                "activity_key": "RA/risk-review",
                "period": f"p-{n}",
                "process": ("RA", "INC", "GOV", "SUP", "OPS")[n % 5],
                "title": f"Review the risks you own, part {n}",
                "evidence_kind": "text",
                "period_start": date(2026, 10, 1),
                "period_end": date(2026, 12, 31),
                "owner_id": "olga",
                "status": "open" if n % 7 else "submitted",
                "due_at": now + timedelta(hours=n % 2000 - 500),
                "created_at": now,
                "round": n % 3 == 0,
                "step": 1,
                "next_action_at": now + timedelta(days=30),
                "delegations": 0,
            }
            for n in range(count)
        ],
    )
    put(
        Incident,
        [
            {
                "ref": f"INC-2026-{n + 1:05d}",
                "year": 2026,
                "number": n + 1,
                "request_key": f"bench:{n}",
                "status": "new" if n % 2 else "incident",
                "severity": None if n % 2 else ("P1", "P2", "P3", "P4")[n % 4 // 1 % 4],
                "reported_at": now - timedelta(minutes=n),
                "reporter_id": "erin",
                "reporter_name": "Erin",
                "reporter_to": "person:erin",
                "summary": f"Suspicious mail {n}",
                "noticed_at": now - timedelta(minutes=n),
                "files": [],
                "revision": 0,
                "updated_at": now,
            }
            for n in range(count)
        ],
    )
    with runtime.ctx.read() as session:
        ids = list(session.scalars(select(Incident.id).order_by(Incident.id).limit(count // 5)))
    put(
        IncidentClock,
        [
            {"incident_id": i, "kind": "gdpr", "started_at": now, "due_at": now + timedelta(hours=72, minutes=n)}
            for n, i in enumerate(ids)
        ],
    )
    put(
        Change,
        [
            {
                "ref": f"CHG-{n + 1}",
                "title": f"Change {n}",
                "description": "d",
                "reason": "r",
                "origin_process": "CHG",
                "origin_ref": f"CHG-{n + 1}",
                "priority": "medium",
                "state": ("submitted", "approved", "in_progress")[n % 3],
                "requester": "erin" if n % 2 else "hana",
                "requester_to": "person:erin",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ],
    )
    put(
        OutboxEffect,
        [
            {
                "kind": "chat.message",
                "key": f"dead:{n}",
                "payload": {},
                "status": "dead",
                "attempts": 8,
                "next_attempt_at": now,
                "created_at": now,
                "last_error": "channel_not_found",
            }
            for n in range(count)
        ],
    )
    with runtime.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


def timed(call: Callable[[], Any], repeat: int = 7) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(target: str, count: int) -> tuple[str, list[tuple[str, float, float, int, int, float]]]:
    with fresh_database(target) as (backend, url):
        migrate.upgrade(make_engine(url))
        now = datetime.now(UTC).replace(microsecond=0)

        def chat(ctx: object) -> Any:
            def send(effect: Effect) -> dict[str, Any]:
                return {}

            return send

        runtime = build_runtime(load_settings(ISMS_DATABASE_URL=url), chat, clock=Clock(now))
        print(f"  seeding {count:,} items per list ...", file=sys.stderr, flush=True)
        seed(runtime, now, count)
        ctx, router = runtime.ctx, runtime.router

        def person(email: str) -> Any:
            return resolve_actor(ctx.org, email=email)

        def ask(who: str, text: str, name: str = "/isms") -> Outcome:
            return router.command(ctx, name, Request(person(who), "bench", text=text))

        def press(who: str, action: str, value: str) -> Outcome:
            return router.action(ctx, action, Request(person(who), "bench", text=value))

        last = f"{count - 1}"
        cases: list[tuple[str, Callable[[], Outcome], Callable[[], Any]]] = [
            (
                "/isms evidence all",
                lambda: ask("alice@example.org", "evidence all"),
                lambda: list(ctx.read().__enter__().scalars(select(EvidenceRequest))),
            ),
            (
                "/isms evidence all, last page",
                lambda: press("alice@example.org", "evidence.more", f"all:{last}"),
                lambda: None,
            ),
            (
                "/isms evidence (owner of 10k)",
                lambda: ask("olga@example.org", "evidence"),
                lambda: list(
                    ctx.read().__enter__().scalars(select(EvidenceRequest).where(EvidenceRequest.owner_id == "olga"))
                ),
            ),
            (
                "/isms incidents",
                lambda: ask("aldo@example.org", "incidents"),
                lambda: list(ctx.read().__enter__().scalars(select(Incident))),
            ),
            (
                "/isms incidents, last page",
                lambda: press("aldo@example.org", "incident.more", f"open:{count + count // 5 - 1}"),
                lambda: None,
            ),
            (
                "/incident mine (reporter of 10k)",
                lambda: ask("erin@example.org", "mine", "/incident"),
                lambda: list(ctx.read().__enter__().scalars(select(Incident).where(Incident.reporter_id == "erin"))),
            ),
            (
                "/isms changes",
                lambda: ask("alice@example.org", "changes"),
                lambda: list(ctx.read().__enter__().scalars(select(Change))),
            ),
            (
                "/isms changes (employee, 5k own)",
                lambda: ask("erin@example.org", "changes"),
                lambda: None,
            ),
            (
                "/isms outbox",
                lambda: ask("alice@example.org", "outbox"),
                lambda: list(ctx.read().__enter__().scalars(select(OutboxEffect))),
            ),
            ("/isms home (owner of 10k)", lambda: ask("olga@example.org", "home"), lambda: None),
        ]
        rows = []
        for label, call, baseline in cases:
            outcome = call()
            assert outcome.reply is not None, label
            blocks = message_blocks(outcome.reply)
            longest = max(len(b["text"]["text"]) for b in blocks if "text" in b and b["type"] == "section")
            assert len(blocks) <= 50 and longest <= MAX_SECTION, label
            seconds = timed(lambda call=call: message_blocks(call().reply))  # type: ignore[misc, union-attr]
            base = timed(baseline, 3) if baseline() is not None else float("nan")
            rows.append((label, seconds, base, len(blocks), longest, len(outcome.reply.body)))
        runtime.engine.dispose()
        return backend, rows


def report(
    results: Sequence[tuple[str, list[tuple[str, float, float, int, int, float]]]], count: int, command: str
) -> str:
    lines = [f"## {HEADING}", "", *machine(), f"- Command: `{command}`", ""]
    lines += [
        f"{count:,} items in each list. Time = the router's answer (counts, one page) plus rendering to Block "
        "Kit, median of 7 after a warm-up. Baseline = only fetching every row of the list as ORM objects, "
        "the first step of the old answers (which then built the whole text and cut it to 3,000 characters). "
        "Blocks and longest section are of the rendered answer (Slack's limits: 50 and 3,000).",
        "",
        "| Backend | List | Time (ms) | Baseline: fetch all rows (ms) | Blocks | Longest section | Body characters |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, rows in results:
        for label, seconds, base, blocks, longest, body in rows:
            baseline = f"{base * 1000:.0f}" if base == base else "–"
            lines.append(
                f"| {backend} | `{label}` | {seconds * 1000:.1f} | {baseline} | {blocks} | {longest:,} | {body:,.0f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--database-url", action="append", dest="targets")
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    args = parser.parse_args(argv)
    results = []
    for target in args.targets or ["sqlite"]:
        print(f"running on {target} ...", file=sys.stderr, flush=True)
        results.append(run(target, args.count))
    text_report = report(
        results, args.count, shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv])
    )
    print(text_report)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text_report)


if __name__ == "__main__":
    main()

"""Benchmark: 10,000 evidence reminders (or a campaign's DMs) go out at once through a rate-limited Slack.

Why this exists: the reminder ladder can put thousands of DMs in the outbox in one tick (a campaign,
the last day of a quarter), and Slack allows only so many chat.postMessage calls a second, answering
429 with Retry-After above that. The bot should use nearly all of the permitted rate, and lose or
double nothing while being throttled.

What runs: a fresh database (temporary SQLite file, or a new PostgreSQL database), an organisation of
``--count`` people, one open evidence request each whose 7-day reminder is due now, and the local
Slack Web API double with a token bucket of ``--rate`` calls a second (burst ``--burst``) on
chat.postMessage, answering 429 with a fractional Retry-After above it. Then one scheduler tick
(``advance_requests``) queues the reminders, and the outbox dispatcher (the bot's own, with the real
Slack sender over HTTP) sends them.

``--workload campaign`` measures an awareness campaign instead: the ISMS manager starts a training for
``--count`` people (one campaign row, one assignment row each, one insert), and the campaign's first
tick (``advance_assignments``) queues every person's DM, 200 per transaction; the same dispatcher
sends them. ``--workload`` is repeatable, so both run side by side in one run.

Measured: the tick's duration (for a campaign: starting it plus queueing every DM); the send phase
from the first to the last accepted message; the share of the permitted rate used (accepted
messages / (burst + rate x send time)); 429 answers; messages lost (a person without their message
in Slack, or a dead outbox effect) and sent twice (the same message accepted twice); peak resident
memory of the bot's process (the double runs in its own); database transactions committed per
message sent during the send phase (claims, marks, heartbeats).

``--baseline REV`` runs every case a second time with the outbox dispatcher of git revision REV
(``git show REV:storage/outbox.py``, with today's exceptions, model and Slack sender), so a change to
the dispatcher is compared with its predecessor in the same run, on the same machine.

Run: ``.venv/bin/python bench/fanout.py [--count N] [--rate R] [--case B/MS/C/PACE] [--database-url URL]
[--baseline REV] [--workload reminders|campaign] [--write]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import machine
from bot.runtime import Runtime, build_runtime
from bot.slack.blocks import fallback_text, message_blocks
from config.settings import PACKAGED_EXAMPLE_ORG, load_settings
from integrations.slack_sender import SlackChatSender, make_web_client
from storage import migrate, outbox
from storage.db import make_engine
from storage.models import EvidenceRequest, OutboxEffect
from storage.outbox import DEAD, SENT, Effect, Sender
from tests.doubles.slack_api import SlackApiDouble
from workflows.awareness.flows import start_campaign
from workflows.awareness.ladder import advance_assignments
from workflows.awareness.lifecycle import CampaignKind
from workflows.evidence.ladder import advance_requests
from workflows.kernel.actors import resolve_actor

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Reminder fan-out"
WORKLOADS = {"reminders": "evidence reminders", "campaign": "campaign DMs"}
TOKEN = "xoxb-bench"


@dataclass(frozen=True)
class Case:
    """One setting of Slack and of the outbox: ``burst/latency_ms/concurrency/pace`` on the command line."""

    burst: int
    latency: float
    concurrency: int
    pace: float | None

    @classmethod
    def parse(cls, text: str) -> Case:
        try:
            burst, latency_ms, concurrency, pace = text.split("/")
            return cls(int(burst), float(latency_ms) / 1000, int(concurrency), float(pace) or None)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not burst/latency_ms/concurrency/pace, e.g. 10/0/1/0"
            ) from None


@dataclass(frozen=True)
class Outcome:
    count: int
    rate: float
    case: Case
    backend: str
    tick_seconds: float
    send_seconds: float
    accepted: int
    throttled: int
    lost: int
    doubled: int
    dead: int
    peak_rss_mib: float
    dispatcher: str = "this tree"
    commits_per_message: float = 0.0
    workload: str = "reminders"

    @property
    def share(self) -> float:
        return self.accepted / (self.case.burst + self.rate * self.send_seconds) if self.send_seconds else 0.0


def organisation(folder: Path, count: int) -> Path:
    """The example organisation plus ``count`` people, quiet hours off (the bench runs at any hour)."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["people"] += [
        {"id": f"p{n:05d}", "name": f"Person {n}", "slack_id": f"U{n:08d}", "roles": ["owner"], "manager": "olga"}
        for n in range(count)
    ]
    org["activities"] = {"quiet_hours": {"enabled": False}}
    path = folder / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def seed(runtime: Runtime, count: int) -> None:
    """One open request per person, asked a week ago, whose 7-day reminder is due now."""
    now = datetime.now(UTC)
    rows = [
        {
            "activity_key": "RA/risk-review",
            "period": f"bench-{n}",
            "process": "RA",
            "title": "Review the risks you own",
            "clause": "27001:8.2",
            "evidence_kind": "text",
            "period_start": date(2026, 10, 1),
            "period_end": date(2026, 12, 31),
            "owner_id": f"p{n:05d}",
            "status": "open",
            "due_at": now + timedelta(days=7),
            "created_at": now - timedelta(days=7),
            "asked_at": now - timedelta(days=7),
            "round": 0,
            "step": 1,
            "next_action_at": now - timedelta(seconds=1),
            "delegations": 0,
        }
        for n in range(count)
    ]
    with runtime.ctx.sessions.begin() as session:
        session.execute(insert(EvidenceRequest), rows)


def start_training(runtime: Runtime, count: int) -> None:
    """The ISMS manager starts a training for every bench person, then the first tick queues the DMs."""
    ctx = runtime.ctx
    with ctx.work(resolve_actor(ctx.org, email="alice@example.org")) as work:
        start_campaign(
            work,
            kind=CampaignKind.TRAINING,
            title="Phishing basics",
            link="https://learn.example.org/phishing",
            text="Twenty minutes on spotting phishing mails.",
            audience="role:owner",
            people=[f"p{n:05d}" for n in range(count)],
            due_at=work.now + timedelta(days=14),
            remind_before=[7, 1],
        )
    advance_assignments(ctx)


def _count(runtime: Runtime, *conditions: object) -> int:
    """One short read each time: an open SQLite transaction would hold the write lock the dispatcher needs."""
    with runtime.ctx.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEffect).where(*conditions)) or 0  # type: ignore[arg-type]


@contextmanager
def fresh_database(target: str) -> Iterator[tuple[str, str]]:
    if target == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield "SQLite (temporary file)", f"sqlite:///{folder}/fanout.db"
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(target, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield "PostgreSQL", make_url(target).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def serve_slack(rate: float, burst: int, latency: float) -> None:
    """The Slack double in a process of its own (Slack is not inside the bot either): prints its URL,
    serves until a line arrives on stdin, then prints what it accepted as JSON."""
    with SlackApiDouble(token=TOKEN, retry_after_format=float, latency=latency) as slack:
        slack.set_rate_limit("chat.postMessage", rate, burst)
        print(slack.base_url, flush=True)
        sys.stdin.readline()
        accepted = [
            (call.args["channel"], call.at)
            for call in slack.calls_to("chat.postMessage")
            if call.response and call.response.get("ok")
        ]
        print(json.dumps({"accepted": accepted, "throttled": slack.throttled}), flush=True)


@contextmanager
def slack_process(rate: float, case: Case) -> Iterator[tuple[str, Callable[[], dict[str, Any]]]]:
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--rate",
            str(rate),
            "--serve-slack",
            f"{case.burst}/{case.latency * 1000:g}/{case.concurrency}/{case.pace or 0}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    base_url = child.stdout.readline().strip()

    def finish() -> dict[str, Any]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("report\n")
        child.stdin.flush()
        return json.loads(child.stdout.readline())

    try:
        yield base_url, finish
    finally:
        child.kill()
        child.wait()


def baseline_dispatcher(revision: str, runtime: Runtime, settings: Any) -> Any:
    """The outbox dispatcher of an earlier revision, on today's exceptions, model and senders."""
    source = subprocess.run(
        ["git", "show", f"{revision}:storage/outbox.py"],
        cwd=Path(__file__).resolve().parents[1],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader(f"baseline_outbox_{revision}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:storage/outbox.py", "exec"), module.__dict__)
    module.RetryLater, module.Undeliverable = outbox.RetryLater, outbox.Undeliverable

    def adapt(sender: Sender) -> Callable[[Any], Any]:
        def send(old: Any) -> Any:
            return sender(Effect(old.kind, old.key, old.payload, old.attempt, old.result_of))

        return send

    today = runtime.dispatcher
    return module.Dispatcher(
        runtime.ctx.sessions,
        {kind: adapt(sender) for kind, sender in today._senders.items()},
        runtime.ctx.clock,
        max_attempts=settings.outbox_max_attempts,
        backoff=module.Backoff(settings.outbox_backoff_base, settings.outbox_backoff_cap),
        rates=settings.outbox_rates,
        concurrency=settings.outbox_concurrency,
    )


def run(
    target: str, count: int, rate: float, case: Case, baseline: str | None = None, workload: str = "reminders"
) -> Outcome:
    with (
        fresh_database(target) as (backend, url),
        tempfile.TemporaryDirectory() as folder,
        slack_process(rate, case) as (base_url, finish),
    ):
        migrate.upgrade(make_engine(url))
        settings = load_settings(
            ISMS_DATABASE_URL=url,
            ISMS_CONFIG=str(organisation(Path(folder), count)),
            ISMS_OUTBOX_RATES=json.dumps({"chat": case.pace} if case.pace else {}),
            ISMS_OUTBOX_CONCURRENCY=case.concurrency,
        )
        client = make_web_client(TOKEN, base_url)
        runtime = build_runtime(settings, lambda ctx: SlackChatSender(client, ctx.org, message_blocks, fallback_text))
        dispatcher = runtime.dispatcher if baseline is None else baseline_dispatcher(baseline, runtime, settings)
        if workload == "campaign":
            started = time.perf_counter()
            start_training(runtime, count)
        else:
            seed(runtime, count)
            started = time.perf_counter()
            advance_requests(runtime.ctx)
        tick_seconds = time.perf_counter() - started

        commits = [0]
        event.listen(runtime.engine, "commit", lambda _connection: commits.__setitem__(0, commits[0] + 1))
        stop = threading.Event()
        worker = threading.Thread(target=dispatcher.run_forever, args=(stop, 0.05), daemon=True)
        worker.start()
        while _count(runtime, OutboxEffect.status.notin_((SENT, DEAD)), OutboxEffect.kind == "chat.message"):
            time.sleep(0.2)
        dead = _count(runtime, OutboxEffect.status == DEAD)
        stop.set()
        dispatcher.wake()
        worker.join(timeout=10)
        runtime.engine.dispose()

        slack = finish()
        accepted = slack["accepted"]
        per_person = Counter(channel for channel, _ in accepted)
        send_seconds = accepted[-1][1] - accepted[0][1] if len(accepted) > 1 else 0.0
        return Outcome(
            count=count,
            rate=rate,
            case=case,
            backend=backend,
            tick_seconds=tick_seconds,
            send_seconds=send_seconds,
            accepted=len(accepted),
            throttled=slack["throttled"],
            lost=count - len(per_person),
            doubled=sum(n - 1 for n in per_person.values()),
            dead=dead,
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            dispatcher="this tree" if baseline is None else f"baseline ({baseline})",
            commits_per_message=commits[0] / max(len(accepted), 1),
            workload=workload,
        )


def report(outcomes: Sequence[Outcome], command: str) -> str:
    heading = "Campaign fan-out" if any(o.workload == "campaign" for o in outcomes) else HEADING
    lines = [f"## {heading}", "", *machine(), f"- Command: `{command}`", ""]
    lines += [
        "One tick queues a reminder for each of N open evidence requests (one per person); the bot's outbox "
        "dispatcher sends them with the real Slack sender over HTTP to the Slack double, which allows R "
        "chat.postMessage calls a second (token bucket, burst B) and answers 429 with a fractional "
        "Retry-After above that. Share = accepted / (B + R x send time), send time from the first to the "
        "last accepted message. Lost = people without their reminder; doubled = reminders accepted twice. "
        "Peak memory is the resident set of the bot's process (the Slack double runs in a process of its own, "
        "as Slack is not inside the bot either); it grows over the run, as cases run one after another in "
        "one process. Commits/msg = database transactions committed during the send phase per message "
        "accepted (claims, outcomes, heartbeats, the reads of the dispatcher's loop are not counted). "
        "Workload campaign: the ISMS manager starts a training for the N people and its first tick queues "
        "their DMs (Tick = start + queueing); reminders: the evidence reminders above, as the baseline.",
        "",
        "| Backend | Workload | Dispatcher | N | R/s | B | Slack latency (ms) | Concurrency | Pace/s | Tick (s) "
        "| Send (s) | Accepted | 429s | Share of rate | Lost | Doubled | Dead | Commits/msg | Peak RSS (MiB) |",
        "| --- | --- | --- |" + " ---: |" * 16,
    ]
    for o in outcomes:
        lines.append(
            f"| {o.backend} | {WORKLOADS[o.workload]} | {o.dispatcher} | {o.count:,} | {o.rate:g} | "
            f"{o.case.burst} | {o.case.latency * 1000:g} | {o.case.concurrency} | {o.case.pace or 'none'} | "
            f"{o.tick_seconds:.1f} | "
            f"{o.send_seconds:.1f} | {o.accepted:,} | {o.throttled:,} | {o.share:.1%} | {o.lost} | "
            f"{o.doubled} | {o.dead} | {o.commits_per_message:.2f} | {o.peak_rss_mib:.0f} |"
        )
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="reminders due at once (one person each)")
    parser.add_argument("--rate", type=float, default=200.0, help="chat.postMessage calls a second Slack allows")
    parser.add_argument(
        "--case",
        type=Case.parse,
        action="append",
        dest="cases",
        help="burst/latency_ms/concurrency/pace: calls Slack allows at once above the rate, "
        "milliseconds it takes to answer, conversations the outbox sends to at once "
        "(ISMS_OUTBOX_CONCURRENCY), client-side pace a second (ISMS_OUTBOX_RATES, 0 = none); "
        "repeatable; default 10/0/1/0",
    )
    parser.add_argument(
        "--database-url",
        action="append",
        dest="targets",
        help="'sqlite' (temporary file, the default) or a PostgreSQL server URL (a bench_<random> "
        "database is created there and dropped); repeatable",
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also run every case with the outbox dispatcher of this git revision (e.g. HEAD), in the same run",
    )
    parser.add_argument(
        "--workload",
        choices=sorted(WORKLOADS),
        action="append",
        dest="workloads",
        help="reminders (evidence reminders, the default) or campaign (an awareness campaign's DMs); repeatable",
    )
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    parser.add_argument("--serve-slack", type=Case.parse, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.serve_slack:
        serve_slack(args.rate, args.serve_slack.burst, args.serve_slack.latency)
        return
    outcomes = []
    for target in args.targets or ["sqlite"]:
        for case in args.cases or [Case(10, 0.0, 1, None)]:
            for workload in args.workloads or ["reminders"]:
                for baseline in ([args.baseline] if args.baseline else []) + [None]:
                    print(
                        f"running on {target}: {workload} {case} {baseline or 'this tree'} ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    outcomes.append(run(target, args.count, args.rate, case, baseline, workload))
    text_report = report(outcomes, shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv]))
    print(text_report)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text_report)


if __name__ == "__main__":
    main()

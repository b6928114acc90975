"""Benchmark: how long after a restart the effects of an outbox dispatcher killed with ``kill -9`` go out.

Why this exists: a dispatcher claims effects before it sends them. If it dies, nobody may send them
until its claim expires: a 2-minute lease before issue 9, a short lease kept alive by a heartbeat
since. And the dead process may have posted messages it never marked as sent: the restarted one must
find them (the outbox key in the message's metadata) instead of posting them again.

What runs: a fresh database with ``--count`` chat messages queued to as many people; the Slack Web API
double (``--latency`` per answer) in this process; a child process (tests/outbox_process.py: the real
dispatcher and Slack sender, ``--concurrency`` conversations at once, lease ``--lease`` seconds) drains
the outbox. After ``--kill-after`` accepted posts it gets SIGKILL, with posts in flight; a new child
starts at once. Measured: from the restart to the delivery of everything the dead process had claimed
(all of it ``sent`` in the outbox), and to its first delivery; lost and doubled messages at Slack.

Run: ``.venv/bin/python bench/outbox_restart.py [--lease S ...] [--database-url URL ...] [--write]``
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from fanout import fresh_database, machine  # noqa: E402

from storage import migrate, outbox  # noqa: E402
from storage.db import make_engine, make_sessions  # noqa: E402
from storage.models import OutboxEffect  # noqa: E402
from tests.doubles.slack_api import SlackApiDouble  # noqa: E402
from workflows.kernel.ui import Message  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass(frozen=True)
class Outcome:
    backend: str
    lease: float
    count: int
    claimed_at_kill: int
    posted_unmarked: int
    first_delivery: float
    all_delivered: float
    lost: int
    doubled: int


def child(url: str, slack: SlackApiDouble, lease: float, concurrency: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.outbox_process", url, slack.base_url, str(lease), str(concurrency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def run(target: str, args: argparse.Namespace, lease: float) -> Outcome:
    with fresh_database(target) as (backend, url):
        engine = make_engine(url)
        migrate.upgrade(engine)
        sessions = make_sessions(engine)
        with sessions.begin() as session:
            for n in range(args.count):
                payload = {"to": f"slack:U{n:06d}", "message": Message(f"reminder {n}").to_dict()}
                outbox.enqueue(session, kind="chat.message", key=f"r{n}", payload=payload, now=datetime.now(UTC))
        with SlackApiDouble(token="xoxb-test", clock=time.time, latency=args.latency) as slack:
            first = child(url, slack, lease, args.concurrency)
            slack.wait_for("chat.postMessage", count=args.kill_after, timeout=120)
            first.send_signal(signal.SIGKILL)
            first.wait()
            time.sleep(args.latency * 2)  # let Slack finish the posts that were in flight
            with sessions() as session:
                claimed = set(session.scalars(select(OutboxEffect.id).where(OutboxEffect.status == outbox.SENDING)))
            posted = {call.args["channel"] for call in slack.calls_to("chat.postMessage")}
            with sessions() as session:
                sent_people = {
                    payload["to"].removeprefix("slack:")
                    for payload in session.scalars(
                        select(OutboxEffect.payload).where(OutboxEffect.status == outbox.SENT)
                    )
                }
            restarted_at = time.monotonic()
            second = child(url, slack, lease, args.concurrency)
            first_delivery = 0.0
            try:
                while True:
                    with sessions() as session:
                        still = session.scalar(
                            select(func.count())
                            .select_from(OutboxEffect)
                            .where(OutboxEffect.id.in_(claimed), OutboxEffect.status != outbox.SENT)
                        )
                    if still is not None and still < len(claimed) and not first_delivery:
                        first_delivery = time.monotonic() - restarted_at
                    if not still:
                        all_delivered = time.monotonic() - restarted_at
                        break
                    time.sleep(0.02)
                while True:
                    with sessions() as session:
                        if outbox.counts_by_status(session) == {"sent": args.count}:
                            break
                    time.sleep(0.05)
            finally:
                second.kill()
                second.wait()
            per_person = Counter(call.args["channel"] for call in slack.calls_to("chat.postMessage"))
        engine.dispose()
    return Outcome(
        backend=backend,
        lease=lease,
        count=args.count,
        claimed_at_kill=len(claimed),
        posted_unmarked=len(posted - sent_people),
        first_delivery=first_delivery,
        all_delivered=all_delivered,
        lost=args.count - len(per_person),
        doubled=sum(n - 1 for n in per_person.values()),
    )


def report(outcomes: Sequence[Outcome], args: argparse.Namespace, command: str) -> str:
    lines = ["## Outbox: restart after kill -9", "", *machine(), f"- Command: `{command}`", ""]
    lines += [
        f"A child process drains {args.count:,} queued DMs into the Slack double ({args.latency * 1000:g} ms per "
        f"answer, {args.concurrency} conversations at once) and gets SIGKILL after {args.kill_after} accepted "
        "posts; a new child starts at once. Claimed = effects the dead process held; posted, not marked = "
        "messages Slack has that the outbox did not know were sent (they must be found, not posted again). "
        "Times from the restart (process start included, about 1 s of imports) to the first and to the last "
        "delivery of the claimed effects. The lease is renewed every third of itself while a dispatcher sends.",
        "",
        "| Backend | Lease (s) | Claimed at kill | Posted, not marked | Restart to first (s) "
        "| Restart to all claimed (s) | Lost | Doubled |",
        "| --- |" + " ---: |" * 7,
    ]
    for o in outcomes:
        lines.append(
            f"| {o.backend} | {o.lease:g} | {o.claimed_at_kill} | {o.posted_unmarked} | {o.first_delivery:.1f} | "
            f"{o.all_delivered:.1f} | {o.lost} | {o.doubled} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--kill-after", type=int, default=100, help="accepted posts before SIGKILL")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds Slack takes to answer")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--lease", type=float, action="append", help="seconds; repeatable; default 15")
    parser.add_argument("--database-url", action="append", dest="targets", help="'sqlite' or a PostgreSQL URL")
    parser.add_argument("--write", action="store_true", help=f"append the report to {RESULTS}")
    args = parser.parse_args(argv)
    outcomes = []
    for target in args.targets or ["sqlite"]:
        for lease in args.lease or [15.0]:
            print(f"running on {target}, lease {lease:g} s ...", file=sys.stderr, flush=True)
            outcomes.append(run(target, args, lease))
    text = report(outcomes, args, shlex.join([os.path.relpath(sys.executable), os.path.relpath(__file__), *argv]))
    print(text)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()

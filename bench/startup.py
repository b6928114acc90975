"""Benchmark: how long ``isms-bot serve`` takes to answer after it is started, and its idle memory.

Why this exists: a restart (a deploy, a crash, a host moving) is time in which Slack's requests fail,
and a bot that idles at twice the memory of a bare Bolt app costs its host for nothing. Both servers
of ``bench/ack.py`` (the real CLI on waitress, and a minimal Bolt app with one INSERT on the same
waitress) are started one after the other, ``--repeats`` times each, interleaved, against the same
database server and the local Slack double; each start is timed from spawning the process to its
first HTTP answer (``/healthz``, the baseline's ``GET /``), and its resident memory is read 1 s later.
The bot's first start on a fresh database is reported apart (SQLite migrates it then; PostgreSQL is
upgraded with ``isms-bot db upgrade`` beforehand, as in production), the repeats start on a database
already at the newest schema. Figures are medians of the repeats.

Run: ``.venv/bin/python bench/startup.py [--database-url sqlite] [--database-url postgresql+psycopg://...]
[--repeats 5] [--write]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import ack
from bench.machine import machine

HEADING = "Start-up and idle memory of `serve`"
BOT = "isms-bot serve"
BASELINE = "minimal Bolt + INSERT"


@dataclass
class Starts:
    backend: str
    first: ack.Started
    bot: list[ack.Started]
    baseline: list[ack.Started]


def bench_backend(target: str, repeats: int) -> Starts:
    with ack.fresh_database(target) as (backend, bot_url), ack.fresh_database(target) as (_, baseline_url):
        slack = subprocess.Popen(
            [sys.executable, ack.__file__, "--serve-slack"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert slack.stdout is not None and slack.stdin is not None
        base_url, _root = slack.stdout.readline().split()
        env = {
            **os.environ,
            "ISMS_DATABASE_URL": bot_url,
            "SLACK_BOT_TOKEN": ack.TOKEN,
            "SLACK_SIGNING_SECRET": ack.SECRET,
            "SLACK_API_URL": base_url,
            "ISMS_HTTP_THREADS": str(ack.THREADS),
            "ISMS_LOG_LEVEL": "WARNING",
        }
        try:
            if backend == "PostgreSQL":
                subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)

            def bot() -> ack.Started:
                port = ack.free_port()
                command = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
                with ack.started(command, env, port, "/healthz") as server:
                    return server

            def baseline() -> ack.Started:
                port = ack.free_port()
                command = [sys.executable, ack.__file__, "--serve-baseline", baseline_url, "--port", str(port)]
                with ack.started(command, {**env, "ISMS_DATABASE_URL": baseline_url}, port, "/") as server:
                    return server

            first = bot()
            baseline()  # its first start creates its table: not counted either
            bots: list[ack.Started] = []
            baselines: list[ack.Started] = []
            for _ in range(repeats):
                bots.append(bot())
                baselines.append(baseline())
                print(f"{backend}: bot {bots[-1].start_seconds:.2f} s, baseline {baselines[-1].start_seconds:.2f} s")
            return Starts(backend, first, bots, baselines)
        finally:
            slack.stdin.close()
            slack.wait()


def report(results: list[Starts], command: str, repeats: int) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"## {HEADING}", "", *machine(), f"- Load average at the end: {load}", f"- Command: `{command}`", ""]
    lines += [
        f"Start = seconds from spawning the process to its first HTTP answer, median of {repeats} starts per "
        "server, interleaved (bot, baseline, bot, ...), on a database already at the newest schema; idle "
        "RSS = resident memory 1 s after that answer, median; CPU = user + system CPU seconds the process "
        "had used at its first answer, median (less swayed by other work on the machine than the start). "
        "First start = the bot's first start on a "
        "fresh database (SQLite: migrated by that start; PostgreSQL: upgraded by `isms-bot db upgrade` before).",
        "",
        "| Database | Server | Start (s) | All starts (s) | CPU to first answer (s) | Idle RSS (MiB) "
        "| First start on a fresh database (s) |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for result in results:
        first_start = f"{result.first.start_seconds:.2f}"
        for name, starts, first in ((BOT, result.bot, first_start), (BASELINE, result.baseline, "–")):
            times = [start.start_seconds for start in starts]
            rss = statistics.median(start.rss for start in starts)
            cpu = statistics.median(start.cpu_seconds for start in starts)
            lines.append(
                f"| {result.backend} | {name} | {statistics.median(times):.2f} | "
                f"{', '.join(f'{t:.2f}' for t in times)} | {cpu:.2f} | {rss:.0f} | {first} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", action="append", help="sqlite, or a PostgreSQL admin URL (repeatable)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"append the results to {ack.RESULTS.name}")
    args = parser.parse_args(argv)
    if not 1 <= args.repeats <= 50:
        parser.error("between 1 and 50 repeats")
    results = [bench_backend(target, args.repeats) for target in args.database_url or ["sqlite"]]
    text = report(results, "python bench/startup.py " + " ".join(sys.argv[1:]), args.repeats)
    print(text)
    if args.write:
        with ack.RESULTS.open("a") as results_file:
            results_file.write("\n" + text)


if __name__ == "__main__":
    main()

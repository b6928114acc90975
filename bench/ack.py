"""Benchmark: how fast ``/incident <text>`` is acknowledged under a burst, against a minimal Bolt app.

Why this exists: a phishing wave or an outage that everybody reports is exactly when people type
``/incident`` at once, and Slack gives every request 3 s. The bot's acknowledgement waits for the
request to be stored in its intake (one INSERT, so an acknowledged report survives a crash); an
intake worker writes the report after it, and "drain" says how long the last ones waited.

What runs, side by side in one run on the same machine and database server:
- ``isms-bot serve`` (the real CLI, a subprocess, waitress) on a fresh database, talking to the local
  Slack Web API double (a process of its own) for the triage post and the reply;
- the baseline: a minimal Bolt app on the same waitress (same thread count) whose ``/incident``
  listener calls ``ack()`` and does one INSERT (SQLAlchemy Core) into the same kind of database.
Load: N clients (threads with a keep-alive ``http.client`` connection each, only to 127.0.0.1), each
sending signed ``/incident <text>`` requests one after the other for ``--seconds``; the server runs
are interleaved (bot, baseline, bot, ...) per client count.

Measured per run: acknowledged requests per second, p50/p99/max ack latency, acks past 3 s, non-200
answers; then the run waits until everything acknowledged is stored (and, for the bot, every
triage post and reply has left the outbox) and reports the stored count. Also "start and load":
seconds from spawning each server to its first ``/healthz`` answer (the baseline's first answer to
``GET /``) and its resident memory when idle after start.

Run: ``.venv/bin/python bench/ack.py [--database-url sqlite] [--database-url postgresql+psycopg://...]
[--clients 8 32 96] [--seconds 10] [--write]``
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "Acknowledgement latency under a burst"
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
USERS = ("U0ERIN", "U0OLGA", "U0MIA", "U0ALDO", "U0DORA", "U0HANA", "U0SAM", "U0ALICE")
SLACK_DEADLINE = 3.0
THREADS = 8
"""The bot's default handler threads (ISMS_HTTP_THREADS), given to both servers alike."""


# -- the servers (each a process of its own) ------------------------------------------------------------


def serve_slack() -> None:
    """The Slack double: prints its base URL and root, serves until stdin closes."""
    from tests.doubles.slack_api import SlackApiDouble

    with SlackApiDouble(token=TOKEN) as slack:
        for user in USERS:
            slack.add_user(user, f"{user.lower()}@example.org")
        print(slack.base_url, slack.root_url, flush=True)
        sys.stdin.read()


def serve_baseline(database_url: str, port: int) -> None:
    """A minimal Bolt app on waitress: ``/incident`` acks and inserts one row."""
    import waitress
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert

    from storage.db import make_engine

    engine = make_engine(database_url)
    metadata = MetaData()
    reports = Table(
        "bench_reports",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", String(32)),
        Column("text", Text),
        Column("trigger_id", String(200)),
        Column("at", DateTime(timezone=True)),
    )
    metadata.create_all(engine)
    client = WebClient(token=TOKEN, base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=SECRET)

    @app.command("/incident")
    def incident(ack, command) -> None:  # type: ignore[no-untyped-def]
        ack()
        with engine.begin() as connection:
            connection.execute(
                insert(reports).values(
                    user_id=command["user_id"],
                    text=command["text"],
                    trigger_id=command["trigger_id"],
                    at=datetime.now(UTC),
                )
            )

    handler = SlackRequestHandler(app)

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/slack/events":
            return handler(environ, start_response)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    waitress.serve(wsgi, host="127.0.0.1", port=port, threads=THREADS, connection_limit=1000, _quiet=True)


# -- load -----------------------------------------------------------------------------------------------


@dataclass
class Run:
    server: str
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    drain: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def late(self) -> int:
        return sum(latency > SLACK_DEADLINE for latency in self.latencies)


def load(port: int, response_root: str, clients: int, seconds: float, label: str) -> Run:
    from tests.doubles.signing import FORM_CONTENT_TYPE, signed_headers, slash_command_body

    run = Run(label, clients, seconds)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    tag = uuid.uuid4().hex[:8]

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        errors = 0
        problems: dict[str, int] = {}
        user = USERS[index % len(USERS)]
        start.wait()
        deadline = time.monotonic() + seconds
        count = 0
        while time.monotonic() < deadline:
            count += 1
            name = f"{tag}-{index}-{count}"
            body = slash_command_body(
                "/incident",
                f"Suspicious mail number {count} from client {index}",
                user,
                trigger_id=f"{int(time.time())}.{index}{count}.{name}",
                response_url=f"{response_root}/response/{name}",
            )
            headers = signed_headers(SECRET, body, content_type=FORM_CONTENT_TYPE)
            began = time.perf_counter()
            try:
                connection.request("POST", "/slack/events", body.encode(), headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status == 200:
                    mine.append(time.perf_counter() - began)
                else:
                    errors += 1
                    problems[f"HTTP {answer.status}"] = problems.get(f"HTTP {answer.status}", 0) + 1
            except (OSError, http.client.HTTPException) as error:
                errors += 1
                what = f"{type(error).__name__} (request {count}, {time.monotonic() - deadline + seconds:.0f} s in)"
                problems[what] = problems.get(what, 0) + 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.close()
        with lock:
            run.latencies.extend(mine)
            run.errors += errors
            for problem, times in problems.items():
                run.problems[problem] = run.problems.get(problem, 0) + times

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    return run


# -- orchestration --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def wait_http(port: int, path: str, child: subprocess.Popen[Any], timeout: float = 60.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if child.poll() is not None:
            raise RuntimeError(f"server exited with {child.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return time.monotonic() - began
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"no answer on {path} within {timeout} s")


@dataclass
class Started:
    child: subprocess.Popen[Any]
    port: int
    start_seconds: float
    rss: float
    cpu_seconds: float = float("nan")
    """CPU time (user + system) the process had used at its first answer: less swayed by other load."""


@contextmanager
def started(command: list[str], env: dict[str, str], port: int, health: str) -> Iterator[Started]:
    began = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(port, health, child)
        seconds = time.monotonic() - began
        cpu = cpu_seconds(child.pid)
        time.sleep(1.0)
        yield Started(child, port, seconds, rss_mib(child.pid), cpu)
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def fresh_database(target: str) -> Iterator[tuple[str, str]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if target == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield "SQLite", f"sqlite:///{folder}/ack.db"
        return
    name = f"bench_ack_{uuid.uuid4().hex[:10]}"
    admin = create_engine(target, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield "PostgreSQL", make_url(target).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def count_rows(database_url: str, sql: str) -> int:
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def drained(database_url: str, sql: str, expected: int, timeout: float = 300.0) -> tuple[int, float]:
    """Wait until ``sql`` counts ``expected``; the count reached and the seconds it took."""
    began = time.monotonic()
    value = count_rows(database_url, sql)
    while value < expected and time.monotonic() - began < timeout:
        time.sleep(0.2)
        value = count_rows(database_url, sql)
    return value, time.monotonic() - began


def bench_backend(target: str, clients: Sequence[int], seconds: float) -> tuple[str, list[Run], list[Started]]:
    with fresh_database(target) as (backend, bot_url), fresh_database(target) as (_, baseline_url):
        slack = subprocess.Popen(
            [sys.executable, __file__, "--serve-slack"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert slack.stdout is not None
        base_url, root = slack.stdout.readline().split()
        env = {
            **os.environ,
            "ISMS_DATABASE_URL": bot_url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": base_url,
            "ISMS_HTTP_THREADS": str(THREADS),
            "ISMS_LOG_LEVEL": "WARNING",
        }
        if backend == "PostgreSQL":
            subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
        bot_port, baseline_port = free_port(), free_port()
        bot_cmd = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(bot_port)]
        base_cmd = [sys.executable, __file__, "--serve-baseline", baseline_url, "--port", str(baseline_port)]
        runs: list[Run] = []
        try:
            with (
                started(bot_cmd, env, bot_port, "/healthz") as bot,
                started(base_cmd, {**env, "ISMS_DATABASE_URL": baseline_url}, baseline_port, "/") as baseline,
            ):
                warm = load(bot_port, root, 2, 1.0, "warm-up")  # first connections, caches, prepared plans
                load(baseline_port, root, 2, 1.0, "warm-up")
                # the bot writes its reports after acknowledging them: count from when the warm-up's are in
                stored, _ = drained(bot_url, "SELECT count(*) FROM incidents", len(warm.latencies))
                rows = count_rows(baseline_url, "SELECT count(*) FROM bench_reports")
                for n in clients:
                    before = stored
                    run = load(bot_port, root, n, seconds, "isms-bot serve")
                    stored += len(run.latencies)
                    reached, run.drain = drained(bot_url, "SELECT count(*) FROM incidents", stored)
                    run.stored, stored = reached - before, reached
                    drained(bot_url, "SELECT -count(*) FROM outbox WHERE status IN ('pending', 'sending')", 0)
                    runs.append(run)
                    before = rows
                    run = load(baseline_port, root, n, seconds, "minimal Bolt + INSERT")
                    rows += len(run.latencies)
                    reached, run.drain = drained(baseline_url, "SELECT count(*) FROM bench_reports", rows)
                    run.stored, rows = reached - before, reached
                    runs.append(run)
                    for done in runs[-2:]:
                        print(format_run(backend, done), done.problems or "", flush=True)
            return backend, runs, [bot, baseline]
        finally:
            assert slack.stdin is not None
            slack.stdin.close()
            slack.wait()


def format_run(backend: str, run: Run) -> str:
    return (
        f"| {backend} | {run.server} | {run.clients} | {run.rate:,.0f} | {run.quantile(0.5) * 1000:.1f} | "
        f"{run.quantile(0.99) * 1000:.1f} | {max(run.latencies, default=0) * 1000:.0f} | {run.late} | "
        f"{run.errors} | {len(run.latencies):,} | {run.stored:,} | "
        f"{run.drain:.1f} |"
    )


def machine() -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    load = os.getloadavg()
    postgres = "not measured"
    try:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version", "test"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        postgres = out.stdout.strip() or postgres
    except OSError:
        pass
    return [
        f"- Date: {datetime.now(UTC):%a %b %d %H:%M:%S UTC %Y}",
        f"- Machine: {os.cpu_count()} vCPUs, {cpu}, load average at start {' '.join(f'{x:.2f}' for x in load)}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, PostgreSQL server {postgres}",
    ]


def report(results: list[tuple[str, list[Run], list[Started]]], command: str, seconds: float) -> str:
    lines = [f"## {HEADING}", "", *machine(), f"- Command: `{command}`", ""]
    lines += [
        f"Each row: N clients sending signed `/incident <text>` requests back to back for {seconds:g} s; "
        "the two servers interleaved per N. Stored = acknowledged reports found in the database afterwards; "
        "drain = seconds after the run until they (and, for the bot, every outbox effect) were all there.",
        "",
        "| Database | Server | Clients | Acks/s | p50 (ms) | p99 (ms) | max (ms) | Acks > 3 s | Errors "
        "| Acknowledged | Stored | Drain (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, runs, _ in results:
        lines += [format_run(backend, run) for run in runs]
    lines += ["", "Start and load (seconds from spawning the process to its first health answer; RSS when idle):", ""]
    lines += ["| Database | Server | Start to first answer (s) | Idle RSS (MiB) |", "| --- | --- | ---: | ---: |"]
    for backend, _, servers in results:
        for name, server in zip(("isms-bot serve", "minimal Bolt + INSERT"), servers, strict=True):
            lines.append(f"| {backend} | {name} | {server.start_seconds:.2f} | {server.rss:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", action="append", help="sqlite, or a PostgreSQL admin URL (repeatable)")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32, 96])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--write", action="store_true", help=f"append the results to {RESULTS.name}")
    parser.add_argument("--serve-slack", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-baseline", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_slack:
        serve_slack()
        return
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port)
        return
    if any(n > 200 for n in args.clients) or args.seconds > 120:
        parser.error("at most 200 clients and 120 s a run")
    targets = args.database_url or ["sqlite"]
    results = [bench_backend(target, args.clients, args.seconds) for target in targets]
    text = report(results, "python bench/ack.py " + " ".join(sys.argv[1:]), args.seconds)
    print(text)
    if args.write:
        with RESULTS.open("a") as results_file:
            results_file.write("\n" + text)


if __name__ == "__main__":
    main()

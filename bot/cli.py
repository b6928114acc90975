"""``isms-bot``: the one command. Every subcommand has ``--help``.

Exit codes: 0 fine, 1 a check failed (e.g. the records chain is broken), 2 bad configuration or a
setting that does not work at start (a database or Slack that cannot be reached, a token Slack
refuses): one line naming the setting and the problem; ``isms-bot --debug ...`` adds the traceback.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import tempfile
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console as RichConsole
from rich.table import Table
from rich.text import Text

from config.errors import ConfigError, StartupError
from config.settings import Settings, load_settings
from workflows.kernel.people import plural

if TYPE_CHECKING:  # imported lazily at run time: only some commands need the database
    from datetime import datetime

    from sqlalchemy.orm import Session, sessionmaker

    from config.organisation import Organisation
    from storage.records import Anchors
    from workflows.communication.reports import Kind
    from workflows.kernel.work import Context
    from workflows.performance.periods import Period

app = typer.Typer(help="The ISMS bot: runs an ISO/IEC 27001 ISMS in chat.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
records_app = typer.Typer(help="The tamper-evident records log.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(records_app, name="records")
app.add_typer(config_app, name="config")
err = RichConsole(stderr=True)
_debug = False


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback when the bot cannot start."),
) -> None:
    global _debug
    _debug = debug


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        _config_failure(error)
        raise  # unreachable, keeps type checkers happy


def _config_failure(error: ConfigError) -> None:
    err.print(f"[bold red]Bad configuration[/] (nothing started):\n{error.describe()}", markup=True, highlight=False)
    raise typer.Exit(2)


@app.command()
def chat(
    as_: str = typer.Option(None, "--as", help="E-mail of the person you are (default: the ISMS manager)."),
) -> None:
    """Console chat on the configured (default: embedded) database, organisation and tracker."""
    from bot.console import Console
    from bot.logging_setup import configure_logging
    from bot.runtime import build_runtime
    from bot.scheduler import BotScheduler, ticking_prompt
    from workflows.outreach.files import UPLOAD_KIND

    settings = _settings()
    configure_logging(settings, level=30)
    prompt: list[Callable[[str], str]] = []  # set once the runtime exists: the prompt ticks the scheduler
    console = Console(ask=lambda text: prompt[0](text))
    try:
        files = {UPLOAD_KIND: console.files(Path(tempfile.gettempdir()) / "isms-bot-files")}
        runtime = build_runtime(settings, console.deliver, extra_senders=files)
    except ConfigError as error:
        _config_failure(error)
    scheduler = BotScheduler(runtime.ctx, runtime.engine)
    prompt.append(ticking_prompt(scheduler, runtime.dispatcher.drain))
    managers = runtime.ctx.org.with_role("isms_manager")
    console.attach(runtime, as_ or (managers[0].email or ""))
    try:
        console.run()
    finally:
        scheduler.stop()


@app.command()
def tick() -> None:
    """Run the due work of every process once (reminders, escalations, timers), unless another
    process runs the scheduler. What it queues is sent by the running bot."""
    from bot.runtime import build_runtime
    from bot.scheduler import BotScheduler
    from storage.outbox import PENDING, counts_by_status

    try:
        runtime = build_runtime(_settings(), lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    scheduler = BotScheduler(runtime.ctx, runtime.engine)
    try:
        ran = scheduler.tick()
    finally:
        scheduler.stop()
    with runtime.ctx.read() as session:
        pending = counts_by_status(session).get(PENDING, 0)
    runtime.engine.dispose()
    if not ran:
        typer.echo("Another process runs the scheduler; nothing done here.")
        return
    waiting = f"{plural(pending, 'effect waits', 'effects wait')}"
    typer.echo(f"Tick done; {waiting} in the outbox for the running bot to send.")


def _left_for_the_bot(effect: object) -> None:
    """``tick`` sends nothing itself: its dispatcher never runs, the serving bot's does."""
    raise AssertionError("isms-bot tick does not dispatch")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(3000, help="TCP port."),
    threads: int = typer.Option(None, help="Worker threads of the WSGI server (default: ISMS_HTTP_THREADS)."),
) -> None:
    """HTTP mode: POST /slack/events, GET /healthz, GET /metrics, on waitress."""
    from bot.server import run_http

    try:
        run_http(_settings(), host, port, threads)
    except ConfigError as error:
        _config_failure(error)


@app.command()
def socket() -> None:
    """Socket Mode: no public URL needed; uses SLACK_APP_TOKEN."""
    from bot.server import run_socket

    try:
        run_socket(_settings())
    except ConfigError as error:
        _config_failure(error)


@app.command()
def processes(
    catalogue: Path = typer.Option(None, help="Another catalogue file (default: ISO/IEC TS 27022)."),
) -> None:
    """Print the process catalogue as a table."""
    from config.catalogue import catalogue_table_rows, load_catalogue

    try:
        loaded = load_catalogue(catalogue or _settings().catalogue_path)
    except ConfigError as error:
        _config_failure(error)
    table = Table(title=f"{loaded.model}: {len(loaded.processes)} processes")
    for heading in ("Id", "Name", "Category", "Clauses", "Inputs from", "Results to", "Activities"):
        table.add_column(heading)
    for row in catalogue_table_rows(loaded):
        table.add_row(*row)
    RichConsole(width=200).print(table)


@config_app.command("check")
def config_check() -> None:
    """Validate the settings, the organisation file, the catalogue and the templates."""
    from bot.runtime import load_config

    settings = _settings()
    try:
        loaded = load_config(settings)
    except ConfigError as error:
        _config_failure(error)
    typer.echo(
        f"{settings.config_path}: OK ({loaded.org.name}, {len(loaded.org.people)} people, "
        f"{len(loaded.catalogue.processes)} processes)"
    )
    for line in _integrations(settings, loaded.org):
        typer.echo(line)


def _integrations(settings: Settings, org: Organisation) -> list[str]:
    """Which outside services are in use, and what each one that is not still needs."""
    from integrations.graph import mailbox_of, missing_settings

    lines = ["Integrations:"]

    def show(name: str, missing: list[str], active: str, inactive: str) -> None:
        if missing:
            lines.append(f"  {name}: not in use ({inactive}); missing {', '.join(missing)}")
        else:
            lines.append(f"  {name}: active ({active})")

    slack = [] if settings.slack_bot_token else ["SLACK_BOT_TOKEN"]
    slack += (
        [] if settings.slack_signing_secret or settings.slack_app_token else ["SLACK_SIGNING_SECRET or SLACK_APP_TOKEN"]
    )
    show("Slack", slack, settings.slack_api_url, "console chat only")
    jira = [
        name for name, value in (("JIRA_URL", settings.jira_url), ("JIRA_PROJECT", settings.jira_project)) if not value
    ]
    jira += [] if settings.jira_pat or settings.jira_api_token else ["JIRA_EMAIL + JIRA_API_TOKEN or JIRA_PAT"]
    show("Jira", jira, f"{settings.jira_url}, project {settings.jira_project}", "the local tracker is used")
    graph = missing_settings(settings)
    show(
        "Microsoft 365",
        graph,
        f"tenant {settings.msgraph_tenant_id} at {settings.msgraph_authority}, Graph {settings.msgraph_url}",
        "roles and managers from the organisation file, no mail or calendar",
    )
    if not graph and mailbox_of(org) is None:
        lines.append("    mail and calendar: off; missing microsoft365.mailbox in the organisation file")
    lines.append("  Records seal: " + ("active" if settings.records_key else "not in use; missing ISMS_RECORDS_KEY"))
    return lines


directory_app = typer.Typer(help="The Entra ID directory (Microsoft 365).", no_args_is_help=True)
app.add_typer(directory_app, name="directory")


@directory_app.command("sync")
def directory_sync() -> None:
    """Refresh people, managers, departments and group roles from Entra ID now, and print what changed.
    Exit 1 when the directory could not be read (the cache stays as it was)."""
    from bot.logging_setup import configure_logging
    from bot.runtime import build_runtime
    from workflows.directory.flows import sync

    settings = _settings()
    configure_logging(settings, level=30)
    try:
        runtime = build_runtime(settings, lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    report = sync(runtime.ctx)
    runtime.engine.dispose()
    for line in report.lines():
        typer.echo(line)
    if report.error:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every Alembic migration to ISMS_DATABASE_URL."""
    from storage import migrate
    from storage.db import make_engine

    engine = make_engine(_settings().database_url)
    migrate.upgrade(engine)
    typer.echo(f"Database at revision {', '.join(sorted(migrate.current_heads(engine)))}")


def _sessions() -> sessionmaker[Session]:
    from storage import migrate
    from storage.db import make_engine, make_sessions

    engine = make_engine(_settings().database_url)
    if engine.dialect.name == "sqlite":
        migrate.upgrade(engine)
    return make_sessions(engine)


def _anchors() -> Anchors:
    from storage.records import Anchors

    try:
        anchors = Anchors.from_settings(_settings())
        _ = anchors.public_key  # a malformed key is a configuration error, named before anything runs
    except ValueError as error:
        _config_failure(ConfigError("environment", [("ISMS_RECORDS_KEY", str(error))]))
    return anchors


def _link(sessions) -> None:  # type: ignore[no-untyped-def]
    """Link what is committed (and seal, when a key is set) before checking or exporting."""
    from datetime import UTC, datetime

    from storage.records import link_pending

    with sessions.begin() as session:
        link_pending(session, datetime.now(UTC), _anchors())


@records_app.command("verify")
def records_verify(
    expect_head: list[str] = typer.Option(None, "--expect-head", help="A published head SEQ:HASH (repeatable)."),
    expect_from: Path = typer.Option(None, "--expect-from", help="A file of published heads, one SEQ:HASH a line."),
    public_key: str = typer.Option(None, help="Ed25519 public key (hex) to check seals without ISMS_RECORDS_KEY."),
    link: bool = typer.Option(True, help="Link committed records first (needs write access)."),
) -> None:
    """Recompute the hash chain and check it against seals and published heads; exit 1 naming the
    first broken record."""
    from datetime import UTC, datetime

    from storage.records import Head, verify

    try:
        heads = [Head.parse(value) for value in expect_head or ()]
        if expect_from:
            lines = expect_from.read_text(encoding="utf-8").splitlines()
            heads += [Head.parse(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, ValueError) as error:
        err.print(f"Cannot read the published heads: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    sessions = _sessions()
    if link:
        _link(sessions)
    key = public_key or _anchors().public_key
    with sessions() as session:
        result = verify(session, public_key=key, expect=heads, now=datetime.now(UTC))
    anchors = []
    if key:
        newest = f", newest {result.newest_seal_at}" if result.seals else ""
        anchors.append(f"{plural(result.seals, 'seal')} valid{newest}")
    if heads:
        anchors.append(f"{plural(len(heads), 'published head')} checked")
    if result.ok:
        typer.echo(
            f"OK: {result.count} records, chain intact, head {result.head}"
            + (f"; {result.unlinked} of them not yet linked" if result.unlinked else "")
            + (f"; {result.erased} erased after retention" if result.erased else "")
            + (f"; {'; '.join(anchors)}" if anchors else "")
        )
        for gap in result.undetectable:
            typer.echo(f"Cannot detect: {gap}.")
        return
    typer.echo(f"BROKEN at record {result.broken_seq}: {result.reason} ({result.count} records before it are intact)")
    raise typer.Exit(1)


@records_app.command("link")
def records_link() -> None:
    """Link committed records into the chain now (the scheduler's leader does it every tick)."""
    from datetime import UTC, datetime

    from storage.records import link_pending

    with _sessions().begin() as session:
        linked = link_pending(session, datetime.now(UTC), _anchors())
    typer.echo(
        f"{plural(linked.count, 'record')} linked, {plural(linked.checkpoints, 'checkpoint')}; head {linked.head}"
    )


@records_app.command("head")
def records_head() -> None:
    """Print the head to publish (SEQ:HASH), after linking."""
    from storage.records import head

    sessions = _sessions()
    _link(sessions)
    with sessions() as session:
        typer.echo(str(head(session)))


@records_app.command("keygen")
def records_keygen() -> None:
    """Print a new Ed25519 key for ISMS_RECORDS_KEY and its public key for auditors."""
    from storage.records import new_key

    private, public = new_key()
    typer.echo(f"ISMS_RECORDS_KEY={private}\npublic key: {public}")


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def _day(value: str | None, option: str) -> datetime | None:
    from datetime import UTC, date, datetime

    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        err.print(f"{option}: not a date (YYYY-MM-DD): {value}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@records_app.command("export")
def records_export(
    out: Path = typer.Option(..., help="File to write."),
    format: ExportFormat = typer.Option(ExportFormat.jsonl, help="jsonl or csv."),
    process: str = typer.Option(None, help="Only this process's records (e.g. INC)."),
    since: str = typer.Option(None, help="Only records from this day on (YYYY-MM-DD, UTC)."),
    until: str = typer.Option(None, help="Only records up to and including this day (YYYY-MM-DD, UTC)."),
) -> None:
    """Write every linked record (with its hashes; JSONL also the seals) so an auditor can re-verify
    the chain independently (tools/verify_records.py, docs/records.md). With filters, each record
    keeps its own and its predecessor's hash: check it against a full export or the database."""
    from datetime import timedelta

    from storage.records import EXPORT_COLUMNS, export_rows, export_seals

    start, end = _day(since, "--since"), _day(until, "--until")
    end = end + timedelta(days=1) if end else None
    if process is not None:
        process = process.strip().upper()
    count = 0
    sessions = _sessions()
    _link(sessions)
    with sessions() as session, out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, EXPORT_COLUMNS) if format is ExportFormat.csv else None
        if writer:
            writer.writeheader()
        try:
            rows = list(export_rows(session, process=process, since=start, until=end))
        except ValueError as error:
            err.print(f"--process: {error}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        for row in rows:
            if writer:
                writer.writerow(row)
            else:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        if not writer:
            for seal in export_seals(session):
                handle.write(json.dumps(seal) + "\n")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    typer.echo(f"{count} records written to {out} (SHA-256 {digest})")


audit_app = typer.Typer(help="For auditors: evidence bundles.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("bundle")
def audit_bundle(
    period: str = typer.Option(..., help="2026, 2026-Q4, 2026-11 or 'since 2026-01-01'."),
    out: Path = typer.Option(..., help="Zip file to write."),
) -> None:
    """A zip of the period's records, registers and evidence answers, with SHA256SUMS, the chain head
    and a README: `sha256sum -c SHA256SUMS` checks it with standard tools."""
    from bot.runtime import build_runtime
    from workflows.kernel.access import Refused
    from workflows.performance import periods
    from workflows.records.bundles import write_bundle

    try:
        runtime = build_runtime(_settings(), lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    ctx = runtime.ctx
    now = ctx.clock()
    try:
        chosen = periods.parse(period, ctx.org.zone, now)
    except Refused as refusal:
        err.print(str(refusal), markup=False, highlight=False)
        raise typer.Exit(2) from None
    _link(ctx.sessions)
    count, digest = write_bundle(ctx, chosen, now, out)
    runtime.engine.dispose()
    typer.echo(f"{count} records and the evidence of {chosen.label} written to {out} (SHA-256 {digest})")


class ReportKind(StrEnum):
    status = "status"
    monthly = "monthly"
    incidents = "incidents"
    evidence = "evidence"
    changes = "changes"
    soa = "soa"


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    csv = "csv"
    xlsx = "xlsx"


@app.command()
def report(
    kind: ReportKind = typer.Argument(..., help="status, monthly, incidents, evidence, changes or soa."),
    period: str = typer.Option(
        None, help="2026, 2026-Q4, 2026-11, 2026-W49 or 'since 2026-10-01' (default: this quarter)."
    ),
    format: ReportFormat = typer.Option(
        ReportFormat.html, "--format", help="md, html (charts), csv (the register) or xlsx (every table, a sheet each)."
    ),
    out: Path = typer.Option(..., help="File to write."),
) -> None:
    """Write a report: HTML is one self-contained file with charts (prints on A4); CSV is the register
    (incidents, evidence with hashes, changes; metrics for status and monthly); XLSX has every table
    in full, one sheet each (for status and monthly: metrics and processes)."""
    from bot.runtime import build_runtime
    from workflows.communication import reports, workbook
    from workflows.kernel.access import Refused
    from workflows.performance import periods

    try:
        runtime = build_runtime(_settings(), lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    ctx = runtime.ctx
    now = ctx.clock()
    if kind is ReportKind.soa:
        _write_soa(ctx, format, out)
        runtime.engine.dispose()
        return
    try:
        chosen = periods.parse(period, ctx.org.zone, now) if period else periods.quarter_of(now, ctx.org.zone)
    except Refused as refusal:
        err.print(str(refusal), markup=False, highlight=False)
        raise typer.Exit(2) from None
    which = reports.KINDS[reports.KINDS.index(kind.value)]
    if format is ReportFormat.xlsx:
        out.write_bytes(workbook.write(ctx, which, chosen, now))
    else:
        _write_text(out, ctx, which, chosen, now, format.value)
    runtime.engine.dispose()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    typer.echo(f"{kind.value} report for {chosen.label} written to {out} ({format.value}, SHA-256 {digest})")


def _write_soa(ctx: Context, format: ReportFormat, out: Path) -> None:
    """The Statement of Applicability as of now (no period: it is the current picture)."""
    from workflows.registers import soa

    if format is ReportFormat.md:
        err.print("The soa report is xlsx, csv or html.", markup=False, highlight=False)
        raise typer.Exit(2)
    now = ctx.clock()
    with ctx.read() as session:
        table = soa.rows(ctx, session)
    if format is ReportFormat.html:
        out.write_text(soa.as_html(ctx, table, now), encoding="utf-8")
    else:
        out.write_bytes(soa.as_csv(table) if format is ReportFormat.csv else soa.as_xlsx(table))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    typer.echo(
        f"Statement of Applicability ({len(table)} controls) written to {out} ({format.value}, SHA-256 {digest})"
    )


registers_app = typer.Typer(
    help="The registers: risks, controls, assets, suppliers, requirements, parties.", no_args_is_help=True
)
app.add_typer(registers_app, name="registers")


class RegisterKindChoice(StrEnum):
    risk = "risk"
    control = "control"
    asset = "asset"
    supplier = "supplier"
    requirement = "requirement"
    party = "party"


@registers_app.command("import")
def registers_import(
    kind: RegisterKindChoice = typer.Argument(..., help="risk, control, asset, supplier, requirement or party."),
    file: Path = typer.Argument(..., help="A .csv (UTF-8) or .xlsx file with the register's columns (see README)."),
) -> None:
    """Import a register file by id: new ids added, known ones updated, every change recorded. A file
    with any bad row is refused whole (row and column named) and nothing of it is stored."""
    from bot.runtime import build_runtime
    from workflows.registers.files import RegisterFileError
    from workflows.registers.flows import import_file
    from workflows.registers.kinds import KINDS

    try:
        runtime = build_runtime(_settings(), lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    try:
        result = import_file(runtime.ctx, KINDS[kind.value], file)
    except RegisterFileError as error:
        err.print(f"{file}: not imported, nothing stored:", markup=False, highlight=False, soft_wrap=True)
        for problem in error.problems:
            err.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        runtime.engine.dispose()
    typer.echo(f"{file}: {kind.value} register imported ({result}).")


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@registers_app.command("export")
def registers_export(
    kind: RegisterKindChoice = typer.Argument(..., help="risk, control, asset, supplier, requirement or party."),
    format: FileFormat = typer.Option(FileFormat.csv, "--format", help="csv or xlsx."),
    out: Path = typer.Option(None, help="File to write (default: CSV to standard output)."),
) -> None:
    """Export a register with the import's columns, so the file imports back unchanged."""
    from bot.runtime import build_runtime
    from workflows.registers import files, service
    from workflows.registers.kinds import KINDS

    if out is None and format is FileFormat.xlsx:
        err.print("--out is needed for xlsx.", markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        runtime = build_runtime(_settings(), lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    register = KINDS[kind.value]
    with runtime.ctx.read() as session:
        data = files.write_table(register, service.export_rows(session, register), format.value)
    runtime.engine.dispose()
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    out.write_bytes(data)
    typer.echo(f"{kind.value} register written to {out} ({format.value}).")


class ReviewFormat(StrEnum):
    md = "md"
    html = "html"
    ics = "ics"


@app.command("review")
def review_export(
    ref: str = typer.Argument(..., help="The review, e.g. REV-2027-01 (/isms reviews lists them)."),
    format: ReviewFormat = typer.Option(
        ReviewFormat.html, "--format", help="md or html (the pack), ics (the invitation)."
    ),
    out: Path = typer.Option(..., help="File to write."),
) -> None:
    """Write a management review's input pack exactly as stored (its SHA-256 is in the pack-assembled
    record) or its calendar invitation (.ics, RFC 5545; the same UID for every version of the review)."""
    from bot.runtime import build_runtime
    from workflows.review import invitation
    from workflows.review.lifecycle import load_review, no_review

    try:
        runtime = build_runtime(_settings(), lambda ctx: _left_for_the_bot)
    except ConfigError as error:
        _config_failure(error)
    ctx = runtime.ctx
    with ctx.read() as session:
        review = load_review(session, ref, False)
        if review is None:
            err.print(no_review(ref), markup=False, highlight=False)
            raise typer.Exit(2)
        if format is ReviewFormat.ics:
            text = invitation.ics(ctx.org, review, ctx.clock())
        else:
            text = (review.pack_markdown if format is ReviewFormat.md else review.pack_html) or ""
    runtime.engine.dispose()
    if not text:
        err.print(f"The input pack of {review.ref} is not assembled yet.", markup=False, highlight=False)
        raise typer.Exit(2)
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    typer.echo(f"{review.ref} ({format.value}) written to {out} (SHA-256 {digest})")


def _write_text(out: Path, ctx: Context, which: Kind, chosen: Period, now: datetime, fmt: str) -> None:
    """Markdown, HTML or CSV, written as text."""
    from workflows.communication import reports

    with out.open("w", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            for chunk in reports.register_csv(ctx, which, chosen, now):
                handle.write(chunk)
        else:
            handle.write(reports.render(ctx, reports.build(ctx, which, chosen, now), fmt))  # type: ignore[arg-type]


def startup_problem(error: BaseException) -> tuple[str, str] | None:
    """The setting and the problem behind an error that stops a command from starting, if we know it."""
    from sqlalchemy import exc

    if isinstance(error, StartupError):
        return error.setting, error.problem
    if isinstance(error, exc.NoSuchModuleError):
        kind = str(error).rsplit(":", 1)[-1].strip()
        return "ISMS_DATABASE_URL", f"unknown kind of database '{kind}' (use postgresql://... or sqlite:///...)"
    if isinstance(error, exc.ArgumentError):
        return (
            "ISMS_DATABASE_URL",
            "is not a database URL (e.g. postgresql://isms@db.example.org/isms or sqlite:///isms.db)",
        )
    if isinstance(error, exc.DBAPIError):
        reason = str(error.orig).strip().splitlines()[0] if error.orig is not None else type(error).__name__
        return "ISMS_DATABASE_URL", f"cannot use the database: {_without_password(reason)}"
    return None


def _without_password(text: str) -> str:
    """Driver messages name host and user, not the password; mask it anyway if the URL has one."""
    from sqlalchemy.engine import make_url

    try:
        password = make_url(load_settings().database_url).password
    except Exception:
        return text
    return text.replace(password, "[secret]") if password else text


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:
        problem = startup_problem(error)
        if problem is None:
            raise
        if _debug:
            traceback.print_exc()
        setting, what = problem
        hint = "" if _debug else " (isms-bot --debug ... shows the details)"
        err.print(Text.assemble(("Cannot start", "bold red"), f": {setting}: {what}{hint}"), soft_wrap=True)
        sys.exit(2)

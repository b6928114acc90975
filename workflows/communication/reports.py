"""Reports as files: ``isms-bot report status|monthly|incidents|evidence|changes --period P --format
md|html|csv``. HTML and Markdown come from templates an organisation may override
(``report.html``, ``report.md``, rendered in Jinja's sandbox; HTML with autoescape); CSV is a register
written directly. The HTML is one self-contained file: inline CSS, charts as inline SVG, no script,
nothing fetched, A4 print rules."""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from markupsafe import Markup
from sqlalchemy.orm import Session

from workflows.changes import service as changes
from workflows.communication import charts, messages, service
from workflows.evidence import service as evidence
from workflows.incidents import service as incidents
from workflows.kernel.people import when
from workflows.kernel.work import Context
from workflows.performance import metrics
from workflows.performance.periods import Period

Kind = Literal["status", "monthly", "incidents", "evidence", "changes", "audit", "soa"]
"""What a report is about. ``build`` makes those in ``KINDS``; "audit" is an internal audit's report
(workflows/audits/report.py) and "soa" the Statement of Applicability (workflows/registers/soa.py),
built into the same ``Report``."""
KINDS: tuple[Kind, ...] = ("status", "monthly", "incidents", "evidence", "changes")
Format = Literal["md", "html", "csv", "xlsx"]
SEVERITIES = ("P1", "P2", "P3", "P4")
REGISTERS = ("incidents", "evidence", "changes")
TABLE_ROWS = 500
"""Register rows an HTML or Markdown report lists; the CSV has them all (the report says so)."""


WORDS = {"sha256": "SHA-256"}
"""Words of a column name that people write differently from the machine name."""


def heading(column: str) -> str:
    """A column as a table header people read ("evidence_date" -> "Evidence date", "file_sha256" ->
    "File SHA-256"); a column named for people already ("Clause or control") stays as it is. Only the
    HTML and Markdown show headings: CSV and XLSX keep the column names, the same in both files and
    from one period to the next, so filters, formulas and scripts written against one keep working."""
    text = " ".join(WORDS.get(word, word) for word in column.split("_"))
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, str]]
    more: int = 0

    @property
    def headings(self) -> tuple[str, ...]:
        """The header of each column in the HTML and Markdown templates, in column order."""
        return tuple(heading(column) for column in self.columns)


@dataclass(frozen=True)
class Register:
    """A whole table of a report, streamed (no row limit): a register or the metrics table."""

    title: str
    columns: tuple[str, ...]
    rows: Iterator[dict[str, str]]


@dataclass(frozen=True)
class Report:
    kind: Kind
    title: str
    organisation: str
    period: str
    generated: str
    summary: list[str]
    sections: list[tuple[str, list[str]]]
    charts: list[Markup]
    tables: list[Table]


def build(ctx: Context, kind: Kind, period: Period, now: datetime) -> Report:
    """Everything the report shows, from aggregate queries of each process's service."""
    until = min(period.end, now)
    with ctx.read() as session:
        overview = service.overview(session, ctx, None, period, now)
        inc_counts = incidents.period_counts(session, period.start, until)
        chg_counts = changes.period_counts(session, period.start, until)
        months = period.months()
        per_month = incidents.reported_per_month(session, months)
        lead_per_month = changes.lead_times_per_month(session, months)
        tables = [_table(r) for r in registers(session, ctx, kind, period, now)] if kind in REGISTERS else []
    measured = overview.measurements
    assert measured is not None
    severities = ctx.org.incidents.severities
    chart_list: list[Markup] = []
    if kind in ("status", "monthly", "incidents"):
        chart_list.append(
            charts.stacked_columns(
                "incidents-per-month",
                "Incidents per month by severity",
                [label for label, _, _ in months],
                {s: [per_month.get((label, s), 0) for label, _, _ in months] for s in SEVERITIES},
            )
        )
        chart_list.append(
            charts.against_target(
                "time-to-resolve",
                "Time to resolve (90th percentile) against target, hours",
                [
                    (
                        s,
                        measured.resolve_spreads[s].p90 / 3600 if s in measured.resolve_spreads else None,
                        severities.get(s).resolve_within.total_seconds() / 3600,
                    )
                    for s in SEVERITIES
                ],
                unit="h",
            )
        )
    if kind in ("status", "monthly", "evidence"):
        chart_list.append(
            charts.bars(
                "evidence-on-time",
                "Evidence on time per process, percent",
                [
                    (pid, 100 * t / c if c else None)
                    for pid in ctx.catalogue.ids
                    for c, t in [measured.on_time_by_process.get(pid, (0, 0))]
                ],
                limit=100,
                unit=" %",
            )
        )
    if kind in ("status", "monthly", "changes"):
        chart_list.append(
            charts.bars(
                "change-lead-time",
                "Change lead time per month (median), days",
                [
                    (label, lead_per_month[label].median / 86400 if label in lead_per_month else None)
                    for label, _, _ in months
                ],
                limit=max([s.median / 86400 for s in lead_per_month.values()], default=1) or 1,
                unit=" d",
            )
        )
    sections = [
        ("Processes", [messages.health_line(ctx, line, now) for line in overview.processes]),
        ("Incidents", messages.incident_lines(ctx, overview)),
        ("Changes", messages.change_lines(ctx, overview)),
        ("Metrics", messages.metric_lines(overview)[1:] or ["Nothing measured in this period."]),
    ]
    # chat indents a section's lines under its heading; the report's heading is its own element
    sections = [(heading, textwrap.dedent("\n".join(lines)).split("\n")) for heading, lines in sections]
    if kind in ("incidents", "evidence", "changes"):
        keep = {"incidents": "Incidents", "evidence": "Processes", "changes": "Changes"}[kind]
        sections = [s for s in sections if s[0] in (keep, "Metrics")]
    names = {
        "status": "ISMS status",
        "monthly": "Monthly ISMS report",
        "incidents": "Incident report",
        "evidence": "Evidence report",
        "changes": "Change report",
    }
    return Report(
        kind=kind,
        title=f"{names[kind]}, {period.label}",
        organisation=ctx.org.name,
        period=period.label,
        generated=when(now, ctx.org.zone),
        summary=[
            f"Incidents reported: {inc_counts['reported']}, closed: {inc_counts['closed']}",
            f"Changes requested: {chg_counts['requested']}, verified: {chg_counts['verified']}",
            f"Evidence requests due: {sum(p.health.due for p in overview.processes)}, "
            f"done: {sum(p.health.done for p in overview.processes)}, "
            f"overdue: {sum(p.health.overdue for p in overview.processes)}",
        ],
        sections=sections,
        charts=chart_list,
        tables=tables,
    )


def _table(register: Register) -> Table:
    kept: list[dict[str, str]] = []
    more = 0
    for row in register.rows:
        if len(kept) < TABLE_ROWS:
            kept.append(row)
        else:
            more += 1
    return Table(register.title, register.columns, kept, more)


@dataclass(frozen=True)
class ReportFile:
    """A report as a file to share in chat."""

    filename: str
    title: str
    content: bytes


def html_file(ctx: Context, kind: Kind, period: Period, now: datetime) -> ReportFile:
    """The HTML report (charts, A4) as a file named for its kind and period."""
    report = build(ctx, kind, period, now)
    name = f"isms-{kind}-report-{period.label.replace(' ', '-')}.html"
    return ReportFile(name, report.title, render(ctx, report, "html").encode("utf-8"))


def render(ctx: Context, report: Report, fmt: Format) -> str:
    if fmt == "html":
        return ctx.templates.html("report.html", report=report)
    return ctx.templates.text("report.md.j2", report=report) + "\n"


def register_csv(ctx: Context, kind: Kind, period: Period, now: datetime) -> Iterator[str]:
    """The CSV register of ``kind`` (incidents, evidence with hashes, changes), or the metrics table
    for the status and monthly reports; streamed a line at a time."""
    buffer = io.StringIO()
    with ctx.read() as session:
        table = registers(session, ctx, kind, period, now)[0]
        writer = csv.DictWriter(buffer, table.columns)
        writer.writeheader()
        for row in table.rows:
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


METRIC_COLUMNS = ("metric", "name", "process", "value", "unit", "count", "threshold", "crossed", "formula")
PROCESS_COLUMNS = ("process", "name", "owner", "due", "done", "overdue", "answered", "on_time", "open", "oldest_due_at")


def registers(session: Session, ctx: Context, kind: Kind, period: Period, now: datetime) -> list[Register]:
    """The tables of a report in full, first the one the CSV holds: the register of ``kind`` for the
    incident, evidence and change reports; for the status and monthly reports the metrics, then the
    evidence health of every process (what the XLSX adds as a second sheet)."""
    span = (period.start, period.end)
    if kind == "incidents":
        return [Register("Incident register", incidents.REGISTER_COLUMNS, incidents.register(session, *span))]
    if kind == "evidence":
        return [Register("Evidence register", evidence.REGISTER_COLUMNS, evidence.register(session, *span))]
    if kind == "changes":
        return [Register("Change register", changes.REGISTER_COLUMNS, changes.register(session, *span))]
    return [
        Register("Metrics", METRIC_COLUMNS, _metric_rows(session, ctx, period, now)),
        Register("Processes", PROCESS_COLUMNS, _process_rows(session, ctx, period, now)),
    ]


def _metric_rows(session: Session, ctx: Context, period: Period, now: datetime) -> Iterator[dict[str, str]]:
    for m in metrics.measure(session, ctx.org, period, now).items:
        yield {
            "metric": m.id,
            "name": m.definition.name,
            "process": m.definition.process,
            "value": "" if m.value is None else f"{m.value:.3f}",
            "unit": m.definition.unit,
            "count": str(m.count),
            "threshold": str(m.threshold or ""),
            "crossed": "yes" if m.crossed else "no",
            "formula": m.definition.formula,
        }


def _process_rows(session: Session, ctx: Context, period: Period, now: datetime) -> Iterator[dict[str, str]]:
    """Each process's evidence health in the period (the generator runs only when read)."""
    for line in service.overview(session, ctx, None, period, now).processes:
        health = line.health
        yield {
            "process": line.id,
            "name": line.name,
            "owner": line.owner,
            "due": str(health.due),
            "done": str(health.done),
            "overdue": str(health.overdue),
            "answered": str(health.answered),
            "on_time": str(health.on_time),
            "open": str(health.in_progress),
            "oldest_due_at": health.oldest_due.isoformat() if health.oldest_due else "",
        }

"""Reports as files: ``isms-bot report status|monthly|incidents|evidence|changes --period P --format
md|html|csv``. HTML and Markdown come from templates an organisation may override
(``report.html``, ``report.md``, rendered in Jinja's sandbox; HTML with autoescape); CSV is a register
written directly. The HTML is one self-contained file: inline CSS, charts as inline SVG, no script,
nothing fetched, A4 print rules."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from markupsafe import Markup

from workflows.changes import service as changes
from workflows.communication import charts, messages, service
from workflows.evidence import service as evidence
from workflows.incidents import service as incidents
from workflows.kernel.people import when
from workflows.kernel.work import Context
from workflows.performance.periods import Period

Kind = Literal["status", "monthly", "incidents", "evidence", "changes", "audit", "soa"]
"""What a report is about. ``build`` makes those in ``KINDS``; "audit" is an internal audit's report
(workflows/audits/report.py) and "soa" the Statement of Applicability (workflows/registers/soa.py),
built into the same ``Report``."""
KINDS: tuple[Kind, ...] = ("status", "monthly", "incidents", "evidence", "changes")
Format = Literal["md", "html", "csv"]
SEVERITIES = ("P1", "P2", "P3", "P4")
TABLE_ROWS = 500
"""Register rows an HTML or Markdown report lists; the CSV has them all (the report says so)."""


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, str]]
    more: int = 0


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
        tables: list[Table] = []
        if kind == "incidents":
            tables.append(
                _table(
                    "Incident register",
                    incidents.REGISTER_COLUMNS,
                    incidents.register(session, period.start, period.end),
                )
            )
        if kind == "evidence":
            tables.append(
                _table(
                    "Evidence register", evidence.REGISTER_COLUMNS, evidence.register(session, period.start, period.end)
                )
            )
        if kind == "changes":
            tables.append(
                _table("Change register", changes.REGISTER_COLUMNS, changes.register(session, period.start, period.end))
            )
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


def _table(title: str, columns: tuple[str, ...], rows: Iterator[dict[str, str]]) -> Table:
    kept: list[dict[str, str]] = []
    more = 0
    for row in rows:
        if len(kept) < TABLE_ROWS:
            kept.append(row)
        else:
            more += 1
    return Table(title, columns, kept, more)


def render(ctx: Context, report: Report, fmt: Format) -> str:
    if fmt == "html":
        return ctx.templates.html("report.html", report=report)
    return ctx.templates.text("report.md.j2", report=report) + "\n"


def register_csv(ctx: Context, kind: Kind, period: Period, now: datetime) -> Iterator[str]:
    """The CSV register of ``kind`` (incidents, evidence with hashes, changes), or the metrics table
    for the status and monthly reports; streamed a line at a time."""
    buffer = io.StringIO()
    columns: tuple[str, ...]
    rows: Iterator[dict[str, str]]
    with ctx.read() as session:
        if kind == "incidents":
            columns, rows = incidents.REGISTER_COLUMNS, incidents.register(session, period.start, period.end)
        elif kind == "evidence":
            columns, rows = evidence.REGISTER_COLUMNS, evidence.register(session, period.start, period.end)
        elif kind == "changes":
            columns, rows = changes.REGISTER_COLUMNS, changes.register(session, period.start, period.end)
        else:
            from workflows.performance import metrics

            measured = metrics.measure(session, ctx.org, period, now)
            columns = ("metric", "name", "process", "value", "unit", "count", "threshold", "crossed", "formula")
            rows = iter(
                [
                    {
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
                    for m in measured.items
                ]
            )
        writer = csv.DictWriter(buffer, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()

"""The weekly digest and the monthly ISMS report as chat messages (the monthly report also as a file:
``isms-bot report monthly``). Built from the same ``Overview`` as ``/isms status``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from workflows.changes import service as changes
from workflows.communication import messages, service
from workflows.evidence import service as evidence
from workflows.incidents import service as incidents
from workflows.kernel.people import when
from workflows.kernel.ui import Message
from workflows.kernel.work import Context
from workflows.performance import periods
from workflows.performance.periods import Period

Builder = Callable[[], Message]


def weekly(ctx: Context, now: datetime, week: Period) -> Message:
    """What changed last week, what is late now, what is due next week."""
    last = periods.week_of(week.start - timedelta(days=1), ctx.org.zone)
    with ctx.read() as session:
        overview = service.overview(session, ctx, None, service.current_period(ctx, now), now)
        inc = incidents.period_counts(session, last.start, last.end)
        chg = changes.period_counts(session, last.start, last.end)
        done = evidence.health(session, now, last.start, last.end)
        coming = evidence.health(session, now, week.start, week.end)
    late_evidence = sum(p.health.overdue for p in overview.processes)
    lines = [
        f"What changed in {last.label}:",
        f"  Incidents: {inc['reported']} reported, {inc['closed']} closed, {inc['not incidents']} not incidents",
        f"  Changes: {chg['requested']} requested, {chg['verified']} verified, "
        f"{chg['failed or declined']} failed or declined",
        f"  Evidence: {sum(h.done for h in done.values())} of {sum(h.due for h in done.values())} due requests done",
        "",
        "What is late now:",
        f"  Evidence overdue: {late_evidence}"
        + (
            " (" + ", ".join(f"{p.id} {p.health.overdue}" for p in overview.processes if p.health.overdue) + ")"
            if late_evidence
            else ""
        ),
        *(f"  {line}" for line in messages.change_lines(ctx, overview)),
        *(f"  {line}" for line in messages.incident_lines(ctx, overview)),
        "",
        f"Due in {week.label}:",
        "  "
        + (
            ", ".join(f"{pid} {h.due - h.done}" for pid, h in sorted(coming.items()) if h.due - h.done)
            or "no evidence requests"
        ),
    ]
    crossed = overview.measurements.crossed if overview.measurements else []
    if crossed:
        lines += ["", "Metrics over their thresholds:"]
        lines += [f"  ⚠ {m.definition.name}: {m.shown} ({m.threshold})" for m in crossed]
    return Message(
        text=f"Weekly ISMS digest, {week.label}",
        body="\n".join(lines),
        footer=f"As of {when(now, ctx.org.zone)}. /isms status shows the whole ISMS now.",
    )


def monthly(ctx: Context, now: datetime, month: Period) -> Message:
    """The ISMS report on ``month``: its metrics and counts; the full report is a file."""
    with ctx.read() as session:
        overview = service.overview(session, ctx, None, month, now)
        inc = incidents.period_counts(session, month.start, month.end)
        chg = changes.period_counts(session, month.start, month.end)
    lines = [
        f"Incidents: {inc['reported']} reported, {inc['closed']} closed",
        f"Changes: {chg['requested']} requested, {chg['verified']} verified",
        "",
        *(messages.health_line(ctx, line, now) for line in overview.processes if line.health.due),
        "",
        *messages.metric_lines(overview),
    ]
    return Message(
        text=f"Monthly ISMS report, {month.label}",
        body="\n".join(lines),
        footer="The full report with charts is the file shared with this message; its tables: "
        f"isms-bot report monthly --period {month.label} --format xlsx",
    )

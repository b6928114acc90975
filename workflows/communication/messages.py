"""What people read about where the ISMS stands, as ``Message`` objects built from an ``Overview``:
the status answer, one process in detail, the weekly digest. Plain text; the chat surface escapes it.
No writes here."""

from __future__ import annotations

from datetime import datetime

from workflows.changes.lifecycle import ChangeState
from workflows.changes.messages import state_label
from workflows.communication.service import Overview, ProcessLine
from workflows.kernel.paging import clip
from workflows.kernel.people import ago, person_name, when
from workflows.kernel.ui import Button, Message
from workflows.kernel.work import Context

DETAIL = "com.status"
"""Button: one process in detail (value: the process id)."""
SEVERITY_ORDER = ("P1", "P2", "P3", "P4", None)
STATE_ORDER = tuple(ChangeState)


def health_line(ctx: Context, line: ProcessLine, now: datetime) -> str:
    h = line.health
    parts = [f"{h.done}/{h.due} done"]
    if h.overdue:
        parts.append(f"{h.overdue} OVERDUE")
    if h.answered:
        parts.append(f"{round(100 * h.on_time / h.answered)} % on time")
    if h.in_progress:
        oldest = f", oldest due {when(h.oldest_due, ctx.org.zone)[:15]}" if h.oldest_due else ""
        parts.append(f"{h.in_progress} open{oldest}")
    flag = "⚠ " if h.overdue else ""
    return f"{flag}{line.id} {line.name}: {', '.join(parts)}"


def incident_lines(ctx: Context, overview: Overview) -> list[str]:
    inc = overview.incidents
    if not inc.total and not inc.clocks:
        return ["Incidents: none open."]
    by_sev = ", ".join(
        f"{severity or 'not rated'} {inc.by_severity[severity]}"
        for severity in SEVERITY_ORDER
        if inc.by_severity.get(severity)
    )
    by_age = ", ".join(f"{label} {count}" for label, count in inc.by_age.items() if count)
    lines = [f"Incidents: {inc.total} open ({by_sev}); by age: {by_age or '—'}"]
    if inc.oldest:
        lines[-1] += f"; oldest reported {ago(overview.now - inc.oldest)}"
    if inc.clocks:
        lines.append(f"Running regulatory clocks: {inc.clocks}")
        lines += [f"  • {ref}: {label}, due {when(due, ctx.org.zone)}" for ref, label, due in inc.soonest_clocks]
    return lines


def change_lines(ctx: Context, overview: Overview) -> list[str]:
    chg = overview.changes
    if not chg.total:
        return ["Changes: none open."]
    states = ", ".join(
        f"{state_label(state).lower()} {chg.by_state[state]}" for state in STATE_ORDER if chg.by_state.get(state)
    )
    lines = [f"Changes: {chg.total} open ({states})"]
    if chg.late:
        lines.append(f"Late (open more than {ctx.org.reports.change_late_days} days): {chg.late}")
        lines += [
            f"  • {ref} {state_label(state).lower()}{f' ({key})' if key else ''}, "
            f"requested {ago(overview.now - created)}"
            for ref, state, key, created in chg.oldest_late
        ]
    return lines


def metric_lines(overview: Overview) -> list[str]:
    if overview.measurements is None:
        return []
    shown = [m for m in overview.measurements.items if m.value is not None or m.threshold is not None]
    if not shown:
        return ["Metrics: nothing measured yet this period."]
    lines = ["Metrics (this period; threshold in brackets):"]
    for m in shown:
        bound = f" ({m.threshold})" if m.threshold else ""
        flag = "⚠ " if m.crossed else ""
        lines.append(f"  {flag}{m.definition.name}: {m.shown}{bound}")
    return lines


def status_message(ctx: Context, overview: Overview) -> Message:
    """The whole ISMS in one message: counts first, a health line per process, incidents, changes,
    metrics; a button per part in detail."""
    inc, chg = overview.incidents, overview.changes
    fields = (
        ("Open incidents", f"{inc.total:,}"),
        ("Running clocks", f"{inc.clocks:,}"),
        ("Open changes", f"{chg.total:,} ({chg.late:,} late)"),
        ("Evidence to review", f"{overview.to_review:,}"),
        ("Overdue evidence", f"{sum(p.health.overdue for p in overview.processes):,}"),
        ("Undelivered messages", f"{overview.undelivered:,}"),
    )
    lines = [f"Processes ({overview.period.label}: evidence done/due, overdue, on time; open now):"]
    lines += [health_line(ctx, line, overview.now) for line in overview.processes]
    lines += ["", *incident_lines(ctx, overview), "", *change_lines(ctx, overview)]
    metric = metric_lines(overview)
    if metric:
        lines += ["", *metric]
    for _, section in overview.sections:
        lines += ["", *section]
    return Message(
        text=f"ISMS status of {ctx.org.name}, {overview.period.label} so far",
        body="\n".join(clip(line) for line in lines),
        fields=fields,
        buttons=tuple(Button(DETAIL, f"{pid} in detail", pid) for pid in ("INC", "CHG", "PERF")),
        footer=f"As of {when(overview.now, ctx.org.zone)}. /isms status <PROCESS> shows one process with its records.",
    )


def own_status_message(ctx: Context, overview: Overview, name: str) -> Message:
    """An employee's own items: their reports, changes and evidence requests."""
    inc, chg = overview.incidents, overview.changes
    open_requests = sum(p.health.in_progress for p in overview.processes)
    overdue = sum(p.health.overdue for p in overview.processes)
    lines = [
        f"Your open incident reports: {inc.total}" + (f" (running clocks: {inc.clocks})" if inc.clocks else ""),
        f"Your open changes: {chg.total}"
        + (" (" + ", ".join(f"{s} {n}" for s, n in chg.by_state.items()) + ")" if chg.total else ""),
        f"Your open evidence requests: {open_requests}" + (f", {overdue} overdue" if overdue else ""),
    ]
    lines += [health_line(ctx, line, overview.now) for line in overview.processes if line.health.in_progress]
    return Message(
        text=f"Your items in the ISMS, {name}",
        body="\n".join(lines),
        footer="/incident mine, /isms changes and /isms evidence list them. The ISMS-wide status is for the "
        "security team, the ISMS manager, management and auditors.",
    )


def process_message(
    ctx: Context,
    overview: Overview,
    process: str,
    records: list[tuple[int, datetime, str, str, str, str]],
) -> Message:
    """One process in detail: its health line, its own part (incidents, changes, metrics), its owner
    and its most recent records."""
    line = next(p for p in overview.processes if p.id == process)
    lines = [health_line(ctx, line, overview.now)]
    if process == "INC":
        lines += incident_lines(ctx, overview)
    if process in ("CHG", "IMP"):
        lines += change_lines(ctx, overview)
    if process == "PERF":
        lines += metric_lines(overview)
    lines.append("")
    lines.append(f"Recent records of {process}:" if records else f"No records of {process} yet.")
    lines += [
        f"  #{seq} {when(at, ctx.org.zone)[:22]} {action} {kind} {ident} by {person_name(ctx.org, who)}"
        for seq, at, who, action, kind, ident in records
    ]
    return Message(
        text=f"{process} {line.name}: {overview.period.label} so far",
        body="\n".join(clip(text) for text in lines),
        fields=(("Owner", person_name(ctx.org, line.owner) if line.owner else "none"),),
        footer=f"As of {when(overview.now, ctx.org.zone)}.",
    )

"""What process COM reads to say where the ISMS stands: one ``Overview`` built from the process
packages' aggregate queries (never their tables directly), for ``/isms status``, the App Home, the
digests and the reports. Nothing here writes, except that an auditor's access is itself a record.

Who sees what (deny by default): the whole ISMS for the security team, the ISMS manager, management
and auditors; everybody else their own items only (their reports, changes and evidence requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from config.organisation import Role
from workflows.changes import service as changes
from workflows.evidence import service as evidence
from workflows.incidents import service as incidents
from workflows.kernel.actors import Actor
from workflows.kernel.work import Context
from workflows.performance import metrics, periods
from workflows.performance.periods import Period
from workflows.records import service as records

OVERSEERS = frozenset({Role.SECURITY_TEAM, Role.SECURITY_LEAD, Role.ISMS_MANAGER, Role.MANAGEMENT, Role.AUDITOR})
"""Who sees the whole ISMS: status of all incidents, every change, every process's evidence."""

RECENT = 10


@dataclass(frozen=True)
class ProcessLine:
    id: str
    name: str
    owner: str
    health: evidence.Health


@dataclass(frozen=True)
class Overview:
    """Everything one status answer, digest or report shows, for one period and one reader."""

    period: Period
    now: datetime
    whole: bool
    """The whole ISMS (an overseer) or one person's own items."""
    processes: tuple[ProcessLine, ...]
    incidents: incidents.OpenIncidents
    changes: changes.ChangeSummary
    to_review: int
    undelivered: int
    measurements: metrics.Measurements | None
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """What other processes add through their descriptor's ``status`` (process id, lines)."""


def sees_everything(actor: Actor) -> bool:
    return actor.has(*OVERSEERS)


def record_auditor_access(ctx: Context, actor: Actor, what: str, subject: str) -> None:
    """An auditor reading the ISMS is itself a record (REC): who, what and when."""
    if actor.has(Role.AUDITOR) and not actor.has(Role.ISMS_MANAGER, Role.SECURITY_TEAM, Role.MANAGEMENT):
        with ctx.work(actor) as work:
            work.record("COM", "auditor-access", ("status", subject), {"what": what})


def current_period(ctx: Context, now: datetime) -> Period:
    """Status answers cover the current quarter so far (organisation timezone)."""
    return periods.quarter_of(now, ctx.org.zone)


def overview(session: Session, ctx: Context, actor: Actor | None, period: Period, now: datetime) -> Overview:
    """The overview for ``actor`` (None: the system, e.g. a digest to the reports channel: everything)."""
    whole = actor is None or sees_everything(actor)
    mine = None if whole or actor is None else actor.id
    health = evidence.health(session, now, period.start, period.end, owner=mine)
    lines = tuple(
        ProcessLine(p.id, p.name, ctx.org.process_owners.get(p.id, ""), health.get(p.id, evidence.Health()))
        for p in ctx.catalogue
    )
    late_after = timedelta(days=ctx.org.reports.change_late_days)
    return Overview(
        period=period,
        now=now,
        whole=whole,
        processes=lines,
        incidents=incidents.open_summary(session, now, reporter=mine),
        changes=changes.summary(session, now, late_after, requester=mine),
        to_review=evidence.waiting_for_review(session) if whole else 0,
        undelivered=records.undelivered_count(session) if whole else 0,
        measurements=metrics.measure(session, ctx.org, period, now) if whole else None,
        sections=_sections(session, ctx, now) if whole else (),
    )


def _sections(session: Session, ctx: Context, now: datetime) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each process's own status lines, in registry order; a process with nothing to say is left out."""
    found = []
    for process in ctx.processes:
        if process.status is not None:
            lines = tuple(process.status(session, ctx, now))
            if lines:
                found.append((process.id, lines))
    return tuple(found)


def recent_records(session: Session, process: str) -> list[tuple[int, datetime, str, str, str, str]]:
    return records.recent_records(session, (process,), RECENT)

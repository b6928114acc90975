"""What the internal audit answers from its tables: one audit, the programme list, the audits a person
audits, an audit's findings, the age of open nonconformities (a PERF metric) and AUD's status lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models.audits import Audit, Finding
from workflows.audits import messages
from workflows.audits.lifecycle import ENDED, NONCONFORMITIES, AuditState, FindingState, load_audit, no_audit
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, window
from workflows.kernel.people import plural
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def find_audit(ctx: Context, ref: str) -> Audit:
    """The audit, detached from its session, for the checks before a form opens."""
    with ctx.read() as session:
        audit = load_audit(session, ref, False)
        if audit is None:
            raise Refused(no_audit(ref))
        session.expunge(audit)
        return audit


def _in_progress_of(session: Session, auditor: str) -> list[Audit]:
    """The audits in progress that ``auditor`` audits, soonest report first (the audits running at
    once are a handful, so they are filtered here rather than by matching the auditor list in SQL)."""
    query = select(Audit).where(Audit.state == AuditState.IN_PROGRESS).order_by(Audit.report_due, Audit.id)
    return [audit for audit in session.scalars(query) if auditor in audit.auditor_ids]


def audits_in_progress_of(ctx: Context, auditor: str) -> list[tuple[str, str]]:
    """(reference, title) of the audits in progress that ``auditor`` audits, soonest report first."""
    with ctx.read() as session:
        return [(audit.ref, audit.title) for audit in _in_progress_of(session, auditor)]


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """The audits in progress this person audits, with the buttons to record findings and report."""
    with ctx.read() as session:
        audits = _in_progress_of(session, actor.id)
    return [messages.home_item(audit) for audit in audits[:HOME_ITEMS]]


def findings_of(session: Session, audit_id: int) -> list[Finding]:
    return list(session.scalars(select(Finding).where(Finding.audit_id == audit_id).order_by(Finding.id)))


def programme(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms audits``: counts by state, then the audits (open ones first, by kick-off), one page."""
    require(ctx, actor, EVERYONE, process="AUD", what="the audit programme", attempt=False)
    with ctx.read() as session:
        by_state = {
            str(state): int(n) for state, n in session.execute(select(Audit.state, func.count()).group_by(Audit.state))
        }
        page = window(sum(by_state.values()), offset)
        finished = case((Audit.state.in_(ENDED), 1), else_=0)
        audits = list(
            session.scalars(
                select(Audit).order_by(finished, Audit.kickoff, Audit.id).offset(page.offset).limit(page.size)
            )
        )
        counts = {
            audit_id: (int(total), int(still_open or 0))
            for audit_id, total, still_open in session.execute(
                select(
                    Finding.audit_id,
                    func.count(),
                    func.sum(case((Finding.state == FindingState.OPEN, 1), else_=0)),
                )
                .where(Finding.audit_id.in_([a.id for a in audits]))
                .group_by(Finding.audit_id)
            )
        }
        lines = [
            messages.programme_line(ctx.org, a, counts.get(a.id, (0, 0))[1], counts.get(a.id, (0, 0))[0])
            for a in audits
        ]
    return Outcome(reply=messages.programme(lines, by_state, page))


@dataclass(frozen=True)
class Ages:
    """Open nonconformities: how many, and the oldest and median age in seconds (None when there are none);
    ``raised`` counts every nonconformity ever raised (none: there is nothing to measure yet)."""

    raised: int
    count: int
    oldest: float | None
    median: float | None


def open_nonconformity_ages(session: Session, now: datetime) -> Ages:
    """Count, oldest and median (nearest rank) age of the nonconformities open at ``now``; three
    small queries, whatever the number of findings."""
    nonconformity = Finding.kind.in_(NONCONFORMITIES)
    still_open = (Finding.state == FindingState.OPEN, nonconformity)
    raised, count = session.execute(
        select(func.count(), func.sum(case((Finding.state == FindingState.OPEN, 1), else_=0))).where(nonconformity)
    ).one()
    count = int(count or 0)
    if not count:
        return Ages(int(raised), 0, None, None)
    oldest = session.scalar(select(func.min(Finding.raised_at)).where(*still_open))
    rank = (count + 1) // 2  # the median age is the ceil(n/2)-th smallest age: newest first
    middle = session.scalar(
        select(Finding.raised_at).where(*still_open).order_by(Finding.raised_at.desc()).offset(rank - 1).limit(1)
    )
    assert oldest is not None and middle is not None
    return Ages(int(raised), count, (now - oldest).total_seconds(), (now - middle).total_seconds())


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """AUD in ``/isms status``: audits by state, the next report due, open findings and nonconformities."""
    by_state = {
        str(state): int(n) for state, n in session.execute(select(Audit.state, func.count()).group_by(Audit.state))
    }
    if not by_state:
        return []
    parts = [f"{messages.STATE_LABELS[s].lower()} {by_state[s]}" for s in AuditState if by_state.get(s)]
    lines = [f"Audits: {', '.join(parts)}"]
    due = session.execute(
        select(Audit.ref, Audit.report_due)
        .where(Audit.state.not_in(ENDED))
        .order_by(Audit.report_due, Audit.id)
        .limit(1)
    ).first()
    if due is not None:
        late = " (OVERDUE)" if due[1] < now.astimezone(ctx.org.zone).date() else ""
        lines.append(f"Next report due: {due[0]} on {due[1].isoformat()}{late}")
    open_findings = int(
        session.scalar(select(func.count()).select_from(Finding).where(Finding.state == FindingState.OPEN)) or 0
    )
    ages = open_nonconformity_ages(session, now)
    if open_findings:
        line = f"Open findings: {open_findings}, of which {plural(ages.count, 'nonconformity', 'nonconformities')}"
        if ages.oldest is not None:
            line += f" (oldest {int(ages.oldest // 86400)} days)"
        lines.append(line)
    return lines

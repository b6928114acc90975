"""AUD's due work for the scheduler's tick: the organisation file's audits are planned once, and each
audit's next step (a reminder, or the kick-off) is performed when its indexed ``next_reminder_at`` has
come, in batches (``run_batches``); safe to run twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import partial

from sqlalchemy import select

from config.organisation import Organisation
from storage.models.audits import Audit
from workflows.audits import flows, messages, milestones
from workflows.audits.forms import Plan
from workflows.audits.lifecycle import ENDED
from workflows.kernel.actors import SYSTEM
from workflows.kernel.batches import due_finder, load_due, run_batches
from workflows.kernel.ui import Message
from workflows.kernel.work import Context, Work


def due_audits(ctx: Context) -> None:
    plan_programme(ctx)
    remind(ctx)


def plan_programme(ctx: Context) -> int:
    """Plan every audit of the file's programme that is not in the table yet (by its key)."""
    wanted = ctx.org.audits.programme
    if not wanted:
        return 0
    with ctx.read() as session:
        known = set(session.scalars(select(Audit.plan_key).where(Audit.plan_key.is_not(None))))
    missing = [entry for entry in wanted if entry.key not in known]
    for entry in missing:
        with ctx.work(SYSTEM) as work:
            plan = Plan(
                title=entry.title,
                processes=entry.processes,
                controls=entry.controls,
                criteria=entry.criteria,
                auditors=entry.auditors,
                kickoff=entry.kickoff,
                evidence_due=entry.evidence_due,
                report_due=entry.report_due,
            )
            flows.create_audit(work, plan, plan_key=entry.key)
    return len(missing)


def remind(ctx: Context) -> int:
    now = ctx.clock()
    find = due_finder(Audit.id, Audit.next_reminder_at, now, Audit.state.not_in(ENDED))
    return run_batches(ctx, "audit reminders", find, lambda work, ids: _remind_batch(work, ids, now)).handled


def _remind_batch(work: Work, ids: Sequence[int], now: datetime) -> list[int]:
    query = select(Audit).where(Audit.id.in_(ids), Audit.next_reminder_at <= now, Audit.state.not_in(ENDED))
    audits = load_due(work.session, query)  # an auditor reporting right now goes first
    for audit in audits:
        _advance(work, audit, now)
    return [audit.id for audit in audits]


def _advance(work: Work, audit: Audit, now: datetime) -> None:
    """Start the audit if its kick-off has come (no late kick-off reminder then), and send the latest due
    reminder of each milestone (reminders passed over while the bot was down are recorded as skipped)."""
    plan = milestones.steps(work.ctx, audit)
    first = audit.reminder_step
    due = [plan[position] for position in range(first, len(plan)) if plan[position].at <= now]
    starting = audit.started_at is None and any(step.kind == "start" for step in due)
    if starting:
        flows.start(work, audit)
    today = now.astimezone(work.ctx.org.zone).date()
    for milestone in milestones.MILESTONES:
        reminders = [step for step in due if step.kind == "remind" and step.milestone == milestone]
        if not reminders or (starting and milestone == "kickoff"):
            continue  # a kick-off reminder that came due late: the start message says it
        step = reminders[-1]
        flows.tell_team(
            work,
            audit,
            f"remind:{step.milestone}:{step.days}:{milestones.day_of(audit, step.milestone).isoformat()}",
            partial(_reminder, work.ctx.org, audit, step, today),
            auditees=milestone != "report",
        )
        data: dict[str, object] = {"milestone": milestone, "days_before": step.days}
        if len(reminders) > 1:
            data["skipped_reminders"] = len(reminders) - 1
        work.record("AUD", "reminded", ("audit", audit.ref), data)
    milestones.schedule(work.ctx, audit, first + len(due), now)


def _reminder(org: Organisation, audit: Audit, step: milestones.Step, today: date, auditor: bool) -> Message:
    return messages.reminder(org, audit, step, today, auditor=auditor)

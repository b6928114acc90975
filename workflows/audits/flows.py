"""Internal audit (AUD): planning an audit, starting it at the kick-off, recording findings (a
nonconformity's corrective action becomes a change request), closing findings and reporting.

A person's step on an audit or a finding runs through ``run_step`` (who may, the row lock, the state);
the audit's start is the tick's (scheduled.py). A nonconformity closes only through CHG's
``change-finished`` with a verified change; closing it by hand before that is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from config.organisation import Organisation
from storage.counters import next_number
from storage.models.audits import Audit, Finding
from workflows.audits import forms, messages, milestones, outlook, report
from workflows.audits.forms import Plan
from workflows.audits.lifecycle import (
    FINDINGS,
    KIND_LABELS,
    NONCONFORMITIES,
    PLANNERS,
    TO_ASK,
    TO_CANCEL,
    TO_FIND,
    TO_MOVE,
    TO_REPORT,
    VERIFIED,
    AuditState,
    FindingKind,
    FindingState,
    auditors_of,
    load_finding,
)
from workflows.audits.service import audits_in_progress_of, find_audit
from workflows.changes.flows import request_change
from workflows.changes.lifecycle import load_change
from workflows.changes.messages import state_label
from workflows.evidence.activities import request_evidence, withdraw_requests
from workflows.kernel.access import Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.paging import clip
from workflows.kernel.people import plural, when, with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.validation import ref_and_reason
from workflows.kernel.work import Context, Work

PLANNING = "planning audits"
NEW_ACTION = "requesting a new corrective action"
ENDED_UNDONE = frozenset({"declined", "failed"})
"""Change states that end a corrective action without fixing the nonconformity."""
_Builder = Callable[[bool], Message]
"""A message for one member of the audit team: (is an auditor) -> message."""
REASON_LIMIT = 2000
"""A change request's reason (CHG's limit): the finding and its root cause, cut to fit."""


# -- planning -----------------------------------------------------------------------------------------


def open_plan_form(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, PLANNERS, process="AUD", what=PLANNING)
    return Outcome(form=forms.plan_form())


def validate_plan(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    return forms.read_plan(ctx.org, ctx.catalogue.ids, values, _today(ctx))[1]


def _today(ctx: Context) -> date:
    return ctx.clock().astimezone(ctx.org.zone).date()


def submit_plan(ctx: Context, actor: Actor, values: dict[str, str], key: str) -> Outcome:
    """The ISMS manager's plan from the form (checked again here: a date may have passed since)."""
    require(ctx, actor, PLANNERS, process="AUD", what=PLANNING)
    plan, errors = forms.read_plan(ctx.org, ctx.catalogue.ids, values, _today(ctx))
    if plan is None:
        return Outcome(errors=errors)
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say("This audit was already planned.")
        audit, events = create_audit(work, plan, plan_key=None)
        return Outcome(
            reply=Message(
                text=f"Planned internal audit {audit.ref}: {audit.title}",
                body="The auditors and auditees are told now and reminded before each date." + outlook.told(events),
                fields=messages.summary(ctx.org, audit),
            )
        )


def create_audit(work: Work, plan: Plan, *, plan_key: str | None) -> tuple[Audit, list[str]]:
    """Store a checked plan, record it, tell auditors and auditees, and schedule its first reminder;
    returns the audit and which of its Outlook events were queued (none without Microsoft 365)."""
    org = work.ctx.org
    year = work.now.astimezone(org.zone).year
    auditees = sorted({org.process_owners[p] for p in plan.processes if p in org.process_owners})
    audit = Audit(
        ref=f"AUD-{year}-{next_number(work.session, f'AUD-{year}'):04d}",
        plan_key=plan_key,
        title=plan.title,
        processes=",".join(plan.processes),
        controls=",".join(plan.controls),
        criteria=plan.criteria,
        auditors=",".join(plan.auditors),
        auditees=",".join(auditees),
        kickoff=plan.kickoff,
        evidence_due=plan.evidence_due,
        report_due=plan.report_due,
        state=AuditState.PLANNED,
        planned_by=work.actor.id,
        created_at=work.now,
        reminder_step=0,
    )
    milestones.schedule(work.ctx, audit, 0, work.now)
    work.session.add(audit)
    work.session.flush()
    events = outlook.schedule_events(work, audit)
    work.record(
        "AUD",
        "audit-planned",
        ("audit", audit.ref),
        {
            "title": audit.title,
            "processes": audit.process_ids,
            "controls": audit.control_ids,
            "criteria": audit.criteria,
            "auditors": audit.auditor_ids,
            "auditees": audit.auditee_ids,
            "kickoff": audit.kickoff.isoformat(),
            "evidence_due": audit.evidence_due.isoformat(),
            "report_due": audit.report_due.isoformat(),
            "source": f"organisation file ({plan_key})" if plan_key else "chat",
            **({"outlook_events": events} if events else {}),
        },
    )
    tell_team(work, audit, "planned", lambda auditor: messages.planned(org, audit, auditor=auditor))
    return audit, events


def tell_team(work: Work, audit: Audit, event: str, build: _Builder, *, auditees: bool = True) -> None:
    """One message to each auditor (with their buttons) and, if ``auditees``, to each auditee."""
    people = [(person, True) for person in audit.auditor_ids]
    if auditees:
        people += [(person, False) for person in audit.auditee_ids if person not in audit.auditor_ids]
    for person, auditor in people:
        work.notify(Recipient.person(person), build(auditor), f"aud:{audit.ref}:{event}:{person}")


# -- the kick-off (the tick's step) --------------------------------------------------------------------


def start(work: Work, audit: Audit) -> None:
    """The audit begins: it is in progress, the team is told and every auditee is asked for evidence
    through the evidence engine (reminded and escalated by its ladder)."""
    org = work.ctx.org
    audit.state, audit.started_at = AuditState.IN_PROGRESS, work.now
    due = _at_due_time(org, audit.evidence_due)
    asked = []
    for auditee in audit.auditee_ids:
        owned = [p for p in audit.process_ids if org.process_owners.get(p) == auditee]
        title = f"Evidence for internal audit {audit.ref} ({', '.join(owned)}): {audit.title}"
        if _ask(work, audit, auditee, f"audit:{audit.ref}:{auditee}", title, due):
            asked.append(auditee)
    work.record("AUD", "audit-started", ("audit", audit.ref), {"evidence_requested_from": asked})
    tell_team(work, audit, "started", lambda auditor: messages.started(org, audit, auditor=auditor))


def _at_due_time(org: Organisation, day: date) -> datetime:
    """A day of the audit plan as the moment evidence is due: the organisation's due time on it."""
    return datetime.combine(day, org.activities.due_time, tzinfo=org.zone)


def _ask(work: Work, audit: Audit, auditee: str, key: str, title: str, due: datetime) -> bool:
    """One evidence request of the audit to an auditee through the evidence engine (asked, reminded and
    escalated like every request); False when ``key`` was already asked."""
    return request_evidence(
        work,
        key=key,
        period=audit.ref,
        process="AUD",
        title=title,
        clause="9.2",
        evidence="text",
        owner=auditee,
        covers=(audit.kickoff, audit.evidence_due),
        due=due,
    )


# -- evidence asked for during the audit -----------------------------------------------------------------

ASK_USAGE = "Use /isms audit ask AUD-2026-0001 <auditee> <what you need to see>"
ASK_LIMIT = 160
"""Characters of what an auditor asks for: it becomes the evidence request's title."""
ASK_DAYS = 3
"""Days an auditee has for evidence asked for after the evidence due date has passed."""


def ask_evidence(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms audit ask <audit> <auditee> <what>``: one more evidence request to an auditee, through
    the evidence engine (asked, reminded and escalated like every request)."""
    ref, _, rest = text.strip().partition(" ")
    who, _, what = rest.strip().partition(" ")
    if not ref or not who or not what.strip():
        raise Refused(ASK_USAGE)
    if len(what.strip()) > ASK_LIMIT:
        raise Refused(f"Say what you need in at most {ASK_LIMIT} characters, please (this has {len(what.strip())}).")
    person = forms.person_id(ctx.org, who)

    def step(work: Work, audit: Audit) -> Outcome:
        if person not in audit.auditee_ids:
            raise Refused(
                f"{messages.names(ctx.org, [person])} is not an auditee of {audit.ref} "
                f"({messages.names(ctx.org, audit.auditee_ids)})."
            )
        org = ctx.org
        due = _at_due_time(org, audit.evidence_due)
        if due <= work.now:
            due = _at_due_time(org, (work.now + timedelta(days=ASK_DAYS)).astimezone(org.zone).date())
        number = next_number(work.session, f"{audit.ref}-E")
        _ask(work, audit, person, f"audit:{audit.ref}:{person}:{number}", f"{audit.ref}: {' '.join(what.split())}", due)
        work.record("AUD", "evidence-asked", ("audit", audit.ref), {"auditee": person, "what": what.strip()})
        return Outcome.say(f"{messages.names(org, [person])} is asked for it now; it is due {when(due, org.zone)}.")

    return run_step(
        ctx,
        actor,
        TO_ASK,
        ref,
        key=key,
        what="asking for evidence",
        allowed=auditors_of,
        step=step,
        within={AuditState.IN_PROGRESS},
        again=Outcome.say("That request was already sent."),
    )


# -- findings ------------------------------------------------------------------------------------------


def open_finding_form(ctx: Context, actor: Actor, ref: str | None) -> Outcome:
    """``/isms finding`` (every audit in progress the person audits) or the audit's button (that one)."""
    if ref:
        audit = find_audit(ctx, ref)
        require(ctx, actor, auditors_of(audit), process="AUD", what="recording findings", subject=("audit", audit.ref))
        if audit.state != AuditState.IN_PROGRESS:
            with ctx.read() as session:
                raise Refused(TO_FIND.not_now(session, audit))
        return Outcome(form=forms.finding_form([(audit.ref, audit.title)], audit.ref))
    audits = audits_in_progress_of(ctx, actor.id)
    if not audits:
        raise Refused("You are not an auditor of an audit in progress, so there is nothing to record a finding on.")
    return Outcome(form=forms.finding_form(audits, audits[0][0] if len(audits) == 1 else None))


def submit_finding(ctx: Context, actor: Actor, values: dict[str, str], key: str) -> Outcome:
    ref = values.get("audit", "")
    return run_step(
        ctx,
        actor,
        TO_FIND,
        ref,
        key=key,
        what="recording findings",
        allowed=auditors_of,
        step=lambda work, audit: Outcome(reply=messages.recorded_reply(raise_finding(work, audit, values))),
        within={AuditState.IN_PROGRESS},
        again=Outcome.say("This finding was already recorded."),
    )


def raise_finding(work: Work, audit: Audit, values: dict[str, str]) -> Finding:
    """Store a finding (validated by forms.validate_finding); a nonconformity's corrective action
    becomes a change request with the finding as its origin."""
    number = next_number(work.session, f"{audit.ref}-F")
    kind = values["kind"]
    nonconformity = kind in NONCONFORMITIES
    finding = Finding(
        ref=f"{audit.ref}-F{number}",
        audit_id=audit.id,
        kind=kind,
        clause=" ".join(values["clause"].split()),
        text=values["text"].strip(),
        root_cause=values.get("root_cause", "").strip() if nonconformity else "",
        corrective_action=values.get("corrective_action", "").strip() if nonconformity else "",
        state=FindingState.OPEN,
        raised_by=work.actor.id,
        raised_at=work.now,
    )
    work.session.add(finding)
    work.session.flush()
    work.record(
        "AUD",
        "finding-raised",
        ("finding", finding.ref),
        {
            "audit": audit.ref,
            "kind": kind,
            "clause": finding.clause,
            "text": finding.text,
            "root_cause": finding.root_cause,
            "corrective_action": finding.corrective_action,
        },
    )
    if nonconformity:
        request_corrective_action(work, audit, finding)
    if finding.kind != FindingKind.OBSERVATION:  # PRM: AUD -> IMPR results and suggestions
        handed = {"kind": kind, "text": finding.text, "auditor": work.actor.id, "change": finding.change_ref}
        publish(work, Interface("AUD", "IMPR", "audit-finding", finding.ref, handed))
    message = messages.finding_raised(finding, audit)
    for person in dict.fromkeys([*audit.auditee_ids, *with_role(work.ctx.org, *PLANNERS)]):
        if person != work.actor.id:
            work.notify(Recipient.person(person), message, f"aud:{finding.ref}:raised:{person}")
    return finding


def request_corrective_action(work: Work, audit: Audit, finding: Finding) -> None:
    """The finding's corrective action as a change request with the finding as its origin (CHG tells
    AUD how it ends)."""
    reason = f"{KIND_LABELS[finding.kind].capitalize()} in internal audit {audit.ref} ({finding.clause}): "
    reason += f"{finding.text}\n\nRoot cause: {finding.root_cause}"
    finding.change_ref = request_change(
        work,
        title=clip(f"Corrective action for {finding.ref}: {finding.clause}", 200),
        description=finding.corrective_action,
        reason=reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 1] + "…",
        origin=("AUD", finding.ref),
        element=finding.clause,
    )
    requested = load_change(work.session, finding.change_ref, False)
    assert requested is not None  # recorded just now, in this unit of work
    finding.change_state = requested.state
    work.record("AUD", "corrective-action-requested", ("finding", finding.ref), {"change": finding.change_ref})


def _audit_of(session: Session, finding: Finding) -> Audit:
    audit = session.get(Audit, finding.audit_id)
    assert audit is not None, "a finding belongs to an audit (foreign key)"
    return audit


def _closers(ctx: Context, finding: Finding) -> Allowed:
    """Who closes a finding or takes its corrective action further: its audit's auditors, the ISMS manager."""
    with ctx.read() as session:
        audit = _audit_of(session, finding)
        return Allowed(PLANNERS, named=tuple(audit.auditor_ids), named_as="auditor")


def _ended(finding: Finding) -> bool:
    """The corrective action of a nonconformity was declined or failed: a new one may be requested."""
    return finding.kind in NONCONFORMITIES and finding.change_state in ENDED_UNDONE


def open_action_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    """ "Request a new corrective action" on the message that the last one ended undone."""
    finding = FINDINGS.find(ctx, ref)
    if finding is None:
        raise Refused(FINDINGS.missing(ref))
    require(ctx, actor, _closers(ctx, finding), process="AUD", what=NEW_ACTION, subject=("finding", finding.ref))
    if finding.state != FindingState.OPEN or not _ended(finding):
        raise Refused(_not_ended(finding))
    return Outcome(form=forms.action_form(finding.ref, finding.root_cause))


def _not_ended(finding: Finding) -> str:
    if finding.state != FindingState.OPEN:
        return f"{finding.ref} is already closed."
    return f"The corrective action of {finding.ref} ({finding.change_ref}) is still {messages.change_state(finding)}."


def submit_action(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """A new root cause and corrective action for a nonconformity whose last change ended undone."""

    def step(work: Work, finding: Finding) -> Outcome:
        if not _ended(finding):
            raise Refused(_not_ended(finding))
        audit = _audit_of(work.session, finding)
        finding.root_cause = values["root_cause"].strip()
        finding.corrective_action = values["corrective_action"].strip()
        request_corrective_action(work, audit, finding)
        return Outcome(reply=messages.recorded_reply(finding))

    return run_step(
        ctx,
        actor,
        FINDINGS,
        ref,
        key=key,
        what=NEW_ACTION,
        allowed=lambda finding: _closers(ctx, finding),
        step=step,
        within={FindingState.OPEN},
        again=Outcome.say("This corrective action was already requested."),
    )


def close_finding(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms finding close <ref> [note]``: an observation or opportunity, by its auditors or the ISMS
    manager. A nonconformity closes when its corrective action is verified, not by hand."""
    ref, _, note = text.strip().partition(" ")
    if not ref:
        raise Refused("Name the finding: /isms finding close AUD-2026-0001-F1 [what was done]")

    def step(work: Work, finding: Finding) -> Outcome:
        if finding.kind in NONCONFORMITIES and finding.change_state != VERIFIED:
            raise Refused(
                f"{finding.ref} is a nonconformity: it closes only when its corrective action "
                f"{finding.change_ref} is verified (it is {state_label(finding.change_state or '').lower()})."
            )
        close(work, finding, note.strip() or "closed by hand")
        return Outcome.say(f"{finding.ref} is closed.")

    return run_step(
        ctx,
        actor,
        FINDINGS,
        ref,
        key=key,
        what=f"closing {ref.upper()}",
        allowed=lambda finding: _closers(ctx, finding),
        step=step,
        to=FindingState.CLOSED,
        again=Outcome.say(f"{ref.upper()} is already closed."),
    )


def close(work: Work, finding: Finding, how: str) -> None:
    """Close the finding (the caller sets its state through the lifecycle), record and tell its auditors."""
    finding.state, finding.closed_at = FindingState.CLOSED, work.now
    audit = _audit_of(work.session, finding)
    data = {"audit": audit.ref, "kind": finding.kind, "clause": finding.clause, "how": how}
    if finding.change_ref:
        data["change"] = finding.change_ref
    work.record("AUD", "finding-closed", ("finding", finding.ref), data)
    if finding.kind != FindingKind.OBSERVATION:
        publish(work, Interface("AUD", "IMPR", "finding-closed", finding.ref, {"how": how}))
    for person in audit.auditor_ids:
        work.notify(
            Recipient.person(person), messages.finding_closed(finding, how), f"aud:{finding.ref}:closed:{person}"
        )


# -- what CHG tells AUD about corrective actions -------------------------------------------------------


def change_status(work: Work, event: Interface) -> None:
    """CHG moved a corrective action (approved, in implementation...): kept on the finding."""
    finding = load_finding(work.session, event.subject_ref, True)
    if finding is not None and finding.change_ref == event.data.get("change"):
        finding.change_state = str(event.data.get("state"))


def change_finished(work: Work, event: Interface) -> None:
    """A verified corrective action closes its nonconformity; a failed or declined one leaves it open
    and tells the auditors and the ISMS manager."""
    finding = load_finding(work.session, event.subject_ref, True)
    if finding is None or finding.change_ref != event.data.get("change") or finding.state != FindingState.OPEN:
        return
    state = str(event.data.get("state"))
    finding.change_state = state
    if state == VERIFIED:
        close(work, finding, f"corrective action {finding.change_ref} verified")
        return
    work.record(
        "AUD", "corrective-action-ended", ("finding", finding.ref), {"change": finding.change_ref, "state": state}
    )
    audit = _audit_of(work.session, finding)
    message = messages.change_ended(finding, state, str(event.data.get("result") or ""))
    for person in dict.fromkeys([*audit.auditor_ids, *with_role(work.ctx.org, *PLANNERS)]):
        work.notify(Recipient.person(person), message, f"aud:{finding.ref}:change-ended:{finding.change_ref}:{person}")


# -- the report ----------------------------------------------------------------------------------------


def mark_reported(ctx: Context, actor: Actor, ref: str, key: str) -> Outcome:
    """The auditor's "Mark reported": the report is rendered, stored as a record and posted."""
    if not ref.strip():
        raise Refused("Name the audit: /isms audit report AUD-2026-0001")

    def step(work: Work, audit: Audit) -> Outcome:
        report.publish_report(work, audit)
        audit.reported_at, audit.next_reminder_at = work.now, None
        return Outcome.say(
            f"{audit.ref} is reported: the report went to the auditors, the ISMS manager and the reports channel."
        )

    return run_step(
        ctx,
        actor,
        TO_REPORT,
        ref,
        key=key,
        what=f"reporting {ref.strip().upper()}",
        allowed=auditors_of,
        step=step,
        to=AuditState.REPORTED,
        again=Outcome.say(f"{ref.strip().upper()} was already reported."),
    )


# -- moving and cancelling -------------------------------------------------------------------------------

MOVE_USAGE = (
    "Use /isms audit move AUD-2026-0001 YYYY-MM-DD (the new kick-off; the evidence and report due dates move with it)."
)
CANCEL_USAGE = "Use /isms audit cancel AUD-2026-0001 <why it is cancelled>."


def move_audit(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms audit move <audit> <kick-off>``: a planned audit's dates shift together; its reminders
    follow the new dates, its Outlook events move (the same events) and the team is told."""
    ref, _, day = text.strip().partition(" ")
    try:
        kickoff = date.fromisoformat(day.strip())
    except ValueError:
        raise Refused(MOVE_USAGE) from None
    if kickoff < _today(ctx):
        raise Refused(f"{kickoff.isoformat()} has passed: pick a kick-off from today on.")

    def step(work: Work, audit: Audit) -> Outcome:
        before = audit.kickoff
        shift = kickoff - before
        if not shift:
            raise Refused(f"{audit.ref} already starts on {kickoff.isoformat()}.")
        dates = {"kickoff": before, "evidence_due": audit.evidence_due, "report_due": audit.report_due}
        audit.kickoff, audit.evidence_due, audit.report_due = (
            kickoff,
            audit.evidence_due + shift,
            audit.report_due + shift,
        )
        milestones.schedule(work.ctx, audit, 0, work.now)
        events = outlook.move_events(work, audit)
        moved = {name: {"from": was.isoformat(), "to": getattr(audit, name).isoformat()} for name, was in dates.items()}
        work.record("AUD", "audit-moved", ("audit", audit.ref), {**moved, "outlook_events": events})
        tell_team(
            work,
            audit,
            f"moved:{kickoff.isoformat()}",
            lambda auditor: messages.moved(ctx.org, audit, before, auditor=auditor),
        )
        return Outcome(
            reply=Message(
                text=f"{audit.ref} is moved: the kick-off is now {kickoff.isoformat()}",
                body="The auditors and auditees are told; the reminders follow the new dates."
                + outlook.told(events, "moved"),
                fields=messages.summary(ctx.org, audit),
            )
        )

    if not ref:
        raise Refused(MOVE_USAGE)
    return run_step(
        ctx,
        actor,
        TO_MOVE,
        ref,
        key=key,
        what=f"moving {ref.strip().upper()}",
        allowed=Allowed(PLANNERS),
        step=step,
        within={AuditState.PLANNED},
        again=Outcome.say(f"{ref.strip().upper()} was already moved."),
    )


def cancel_audit(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms audit cancel <audit> <why>``: no more reminders, the auditees' open evidence requests for
    it withdrawn, its Outlook events cancelled, the team told; open findings stay as they are."""
    ref, reason = ref_and_reason(text, CANCEL_USAGE)

    def step(work: Work, audit: Audit) -> Outcome:
        audit.next_reminder_at = None
        withdrawn = withdraw_requests(work, "AUD", audit.ref, f"Internal audit {audit.ref} is cancelled: {reason}")
        events = outlook.cancel_events(work, audit, reason)
        work.record(
            "AUD",
            "audit-cancelled",
            ("audit", audit.ref),
            {"reason": reason, "from": audit.state, "evidence_withdrawn": withdrawn, "outlook_events": events},
        )
        tell_team(work, audit, "cancelled", lambda auditor: messages.cancelled(audit, reason, len(withdrawn)))
        return Outcome.say(
            f"{audit.ref} is cancelled; the auditors and auditees are told."
            + (f" Withdrawn: {plural(len(withdrawn), 'open evidence request')} for it." if withdrawn else "")
            + outlook.told(events, "cancelled")
        )

    return run_step(
        ctx,
        actor,
        TO_CANCEL,
        ref,
        key=key,
        what=f"cancelling {ref.strip().upper()}",
        allowed=Allowed(PLANNERS),
        step=step,
        to=AuditState.CANCELLED,
        again=Outcome.say(f"{ref.strip().upper()} was already cancelled."),
    )

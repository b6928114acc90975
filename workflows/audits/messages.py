"""What people see of an audit and its findings, built from rows: the plan with the auditors' buttons,
reminders, findings, the report notice and the lines of the programme list. Nothing here writes;
flows.py and scheduled.py queue these messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from config.organisation import Organisation
from storage.models.audits import Audit, Finding
from workflows.audits.lifecycle import KIND_LABELS, NONCONFORMITIES, AuditState
from workflows.audits.milestones import Step, day_of
from workflows.changes.messages import state_label
from workflows.kernel.paging import Window, page_message
from workflows.kernel.people import person_name, plural
from workflows.kernel.ui import Button, Message

RECORD_FINDING, REPORT, MORE = "audit.record_finding", "audit.report", "audit.more"
NEW_ACTION = "audit.corrective_action"
"""Button (and its form): a new corrective action after the last one was declined or failed."""
"""Buttons: open the finding form for this audit, mark it reported, the programme list's next page."""
PROGRAMME = "programme"
"""The name of the ``/isms audits`` list (the "More" button's value)."""
REPORT_BODY_LIMIT = 2800
"""Characters of the Markdown report shown in a chat message (one Slack section); the whole text is
in the record."""


def names(org: Organisation, people: Sequence[str]) -> str:
    return ", ".join(person_name(org, person) for person in people) or "nobody"


def _day(day: date) -> str:
    return f"{day:%a %d %b %Y}"


def summary(org: Organisation, audit: Audit) -> tuple[tuple[str, str], ...]:
    scope = ", ".join(audit.process_ids)
    if audit.control_ids:
        scope += "; controls " + ", ".join(audit.control_ids)
    return (
        ("Scope", scope),
        ("Auditors", names(org, audit.auditor_ids)),
        ("Auditees", names(org, audit.auditee_ids)),
        ("Kick-off", _day(audit.kickoff)),
        ("Evidence due", _day(audit.evidence_due)),
        ("Report due", _day(audit.report_due)),
    )


def auditor_buttons(audit: Audit) -> tuple[Button, ...]:
    return (
        Button(RECORD_FINDING, "Record a finding", audit.ref, "primary"),
        Button(REPORT, "Mark reported", audit.ref),
    )


def planned(org: Organisation, audit: Audit, *, auditor: bool) -> Message:
    role = "You are an auditor of" if auditor else "Your process is in scope of"
    return Message(
        text=f"{role} internal audit {audit.ref}: {audit.title}",
        body=f"Criteria: {audit.criteria}",
        fields=(("Reference", audit.ref), *summary(org, audit)),
        buttons=auditor_buttons(audit) if auditor else (),
    )


def moved(org: Organisation, audit: Audit, before: date, *, auditor: bool) -> Message:
    return Message(
        text=f"Internal audit {audit.ref} is moved: it starts {_day(audit.kickoff)} instead of {_day(before)}",
        body="The evidence and report due dates moved with it; the reminders follow the new dates.",
        fields=summary(org, audit),
        buttons=auditor_buttons(audit) if auditor else (),
    )


def cancelled(audit: Audit, reason: str, withdrawn: int) -> Message:
    requests = f" {plural(withdrawn, 'evidence request')} for it {'was' if withdrawn == 1 else 'were'} withdrawn."
    return Message(
        text=f"Internal audit {audit.ref} is cancelled: {audit.title}",
        body=f"Reason: {reason}" + (requests if withdrawn else ""),
    )


def _in(days: int) -> str:
    return {0: "today", 1: "tomorrow"}.get(days, f"in {plural(days, 'day')}")


def reminder(org: Organisation, audit: Audit, step: Step, today: date, *, auditor: bool) -> Message:
    """A reminder of ``step``'s milestone; the days are counted from ``today`` (a reminder moved out of
    the weekend says "today", not "in 1 day")."""
    left = _in(max((day_of(audit, step.milestone) - today).days, 0))
    what = {
        "kickoff": f"internal audit {audit.ref} starts {left}",
        "evidence": f"evidence for internal audit {audit.ref} is due {left}",
        "report": f"the report of internal audit {audit.ref} is due {left}",
    }[step.milestone]
    hint = {
        "kickoff": "Auditees get an evidence request at the kick-off.",
        "evidence": "Auditees: answer your evidence request (/isms evidence lists it).",
        "report": f"Auditors: record the findings, then press Mark reported (or /isms audit report {audit.ref}).",
    }[step.milestone]
    return Message(
        text=f"Reminder: {what}.",
        body=hint,
        fields=(("Audit", audit.title), *summary(org, audit)),
        buttons=auditor_buttons(audit) if auditor and step.milestone == "report" else (),
    )


def started(org: Organisation, audit: Audit, *, auditor: bool) -> Message:
    body = (
        "Record findings as you go; each nonconformity needs a root cause and a corrective action."
        if auditor
        else f"You will get an evidence request for it; evidence is due {_day(audit.evidence_due)}."
    )
    return Message(
        text=f"Internal audit {audit.ref} starts today: {audit.title}",
        body=body,
        fields=summary(org, audit),
        buttons=auditor_buttons(audit) if auditor else (),
    )


def home_item(audit: Audit) -> Message:
    return Message(
        text=f"You audit {audit.ref} (in progress, report due {_day(audit.report_due)}): {audit.title}",
        buttons=auditor_buttons(audit),
    )


def change_state(finding: Finding) -> str:
    return state_label(finding.change_state or "").lower()


def finding_line(finding: Finding) -> str:
    change = f" · change {finding.change_ref} {change_state(finding)}" if finding.change_ref else ""
    return f"{finding.ref} [{finding.state}] {KIND_LABELS.get(finding.kind, finding.kind)}, {finding.clause}{change}"


def finding_raised(finding: Finding, audit: Audit) -> Message:
    fields: list[tuple[str, str]] = [("Kind", KIND_LABELS.get(finding.kind, finding.kind)), ("Clause", finding.clause)]
    if finding.kind in NONCONFORMITIES:
        fields += [("Root cause", finding.root_cause), ("Corrective action", finding.corrective_action)]
        if finding.change_ref:
            fields.append(("Change request", finding.change_ref))
    return Message(
        text=f"Finding {finding.ref} in audit {audit.ref}: {KIND_LABELS.get(finding.kind, finding.kind)}",
        body=finding.text,
        fields=tuple(fields),
    )


def recorded_reply(finding: Finding) -> Message:
    if finding.change_ref:
        follow = (
            f"Its corrective action is change {finding.change_ref}; the finding closes when that change is verified."
        )
    else:
        follow = f"Close it with /isms finding close {finding.ref} when it is dealt with."
    return Message(text=f"Recorded {finding.ref} ({KIND_LABELS.get(finding.kind, finding.kind)}).", body=follow)


def finding_closed(finding: Finding, how: str) -> Message:
    return Message(text=f"Finding {finding.ref} is closed: {how}")


def change_ended(finding: Finding, state: str, result: str) -> Message:
    return Message(
        text=f"The corrective action of {finding.ref} ended {state}: the finding stays open.",
        body=(f"Result: {result}\n" if result else "")
        + "Agree a new corrective action with the auditees and request it here.",
        buttons=(Button(NEW_ACTION, "Request a new corrective action", finding.ref, "primary"),),
    )


def reported(audit: Audit, markdown: str, counts: Mapping[str, int], digests: Mapping[str, str]) -> Message:
    body = markdown if len(markdown) <= REPORT_BODY_LIMIT else markdown[: REPORT_BODY_LIMIT - 1] + "…"
    return Message(
        text=f"Audit report {audit.ref}: {audit.title}",
        body=body,
        fields=(
            ("Findings", ", ".join(f"{KIND_LABELS[k]} {n}" for k, n in counts.items() if n) or "none"),
            ("SHA-256 (Markdown)", digests["md"]),
            ("SHA-256 (HTML)", digests["html"]),
        ),
        footer="The full report (Markdown and HTML) is kept in the records log.",
    )


STATE_LABELS: dict[str, str] = {
    AuditState.PLANNED: "Planned",
    AuditState.IN_PROGRESS: "In progress",
    AuditState.REPORTED: "Reported",
    AuditState.CANCELLED: "Cancelled",
}


def programme_line(org: Organisation, audit: Audit, open_findings: int, findings: int) -> str:
    return (
        f"{audit.ref} {STATE_LABELS.get(audit.state, audit.state)} · {audit.title} · scope "
        f"{', '.join(audit.process_ids)} · auditors {names(org, audit.auditor_ids)} · kick-off "
        f"{audit.kickoff.isoformat()}, evidence {audit.evidence_due.isoformat()}, report "
        f"{audit.report_due.isoformat()} · findings {open_findings} open of {findings}"
    )


def programme(lines: Sequence[str], by_state: Mapping[str, int], page: Window) -> Message:
    counts = tuple((STATE_LABELS[state], str(by_state.get(state, 0))) for state in AuditState)
    return page_message(
        title=f"Audit programme: {plural(page.total, 'audit')}",
        lines=lines,
        page=page,
        more=MORE,
        name=PROGRAMME,
        counts=counts,
        note="" if page.total else "No audits are planned. The ISMS manager plans one with /isms audit new.",
    )

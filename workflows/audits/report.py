"""The audit report: scope, criteria, auditors, auditees, dates and every finding with its state, in
Markdown and HTML from the report templates (``report.md.j2``, ``report.html``: the machinery of COM's
reports, so an organisation's template overrides apply and user text in the HTML is escaped by
Jinja's autoescape). Both texts and their SHA-256 are stored as the "audit-reported" record, and a
notice with the Markdown goes to the auditors, the ISMS managers and the reports channel; the HTML is
shared as a file with the reports channel and the auditors."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime

from storage.models.audits import Audit, Finding
from workflows.audits import messages
from workflows.audits.lifecycle import KIND_LABELS, NONCONFORMITIES, PLANNERS, FindingKind, FindingState
from workflows.audits.service import findings_of
from workflows.communication.reports import Report, Table, render
from workflows.kernel.people import when, with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Context, Work
from workflows.outreach.files import dated_name, share_each

COLUMNS = ("Finding", "Kind", "Clause or control", "Text", "Root cause", "Corrective action", "Change", "State")


def build(ctx: Context, audit: Audit, findings: list[Finding], now: datetime) -> Report:
    org = ctx.org
    counts = Counter(f.kind for f in findings)
    still_open = sum(1 for f in findings if f.state == FindingState.OPEN)
    rows = [
        {
            "Finding": f.ref,
            "Kind": KIND_LABELS.get(f.kind, f.kind),
            "Clause or control": f.clause,
            "Text": f.text,
            "Root cause": f.root_cause,
            "Corrective action": f.corrective_action,
            "Change": f"{f.change_ref} ({messages.change_state(f)})" if f.change_ref else "",
            "State": f.state,
        }
        for f in findings
    ]
    scope = [f"{p} {_process_name(ctx, p)}".rstrip() for p in audit.process_ids]
    scope += [f"Control {c}" for c in audit.control_ids]
    return Report(
        kind="audit",
        title=f"Internal audit report {audit.ref}: {audit.title}",
        organisation=org.name,
        period=f"{audit.kickoff.isoformat()} to {audit.report_due.isoformat()}",
        generated=when(now, org.zone),
        summary=[
            f"Findings: {len(findings)} ({still_open} open)",
            *(f"{KIND_LABELS[kind].capitalize()}: {counts.get(kind, 0)}" for kind in FindingKind),
        ],
        sections=[
            ("Scope", scope),
            ("Criteria", audit.criteria.splitlines() or ["—"]),
            ("Auditors", [messages.names(org, audit.auditor_ids)]),
            ("Auditees", [messages.names(org, audit.auditee_ids)]),
            (
                "Dates",
                [
                    f"Kick-off {audit.kickoff.isoformat()}",
                    f"Evidence due {audit.evidence_due.isoformat()}",
                    f"Report due {audit.report_due.isoformat()}",
                ],
            ),
            ("Findings", [messages.finding_line(f) for f in findings] or ["No findings."]),
        ],
        charts=[],
        tables=[Table("Findings in detail", COLUMNS, rows)] if rows else [],
    )


def _process_name(ctx: Context, process: str) -> str:
    """The catalogue's name of a process in scope ("" if the catalogue no longer has it)."""
    try:
        return ctx.catalogue.get(process).name
    except KeyError:
        return ""


def publish_report(work: Work, audit: Audit) -> None:
    """Render, record (texts and SHA-256) and post the report of ``audit``."""
    ctx = work.ctx
    findings = findings_of(work.session, audit.id)
    built = build(ctx, audit, findings, work.now)
    texts = {"md": render(ctx, built, "md"), "html": render(ctx, built, "html")}
    digests = {fmt: hashlib.sha256(text.encode("utf-8")).hexdigest() for fmt, text in texts.items()}
    counts: dict[str, int] = {kind: sum(1 for f in findings if f.kind == kind) for kind in FindingKind}
    work.record(
        "AUD",
        "audit-reported",
        ("audit", audit.ref),
        {
            "findings": {kind: counts[kind] for kind in FindingKind},
            "open_nonconformities": sum(
                1 for f in findings if f.kind in NONCONFORMITIES and f.state == FindingState.OPEN
            ),
            "markdown": texts["md"],
            "html": texts["html"],
            "sha256": digests,
        },
    )
    notice = messages.reported(audit, texts["md"], counts, digests)
    people = dict.fromkeys([*audit.auditor_ids, *with_role(ctx.org, *PLANNERS)])
    for person in people:
        work.notify(Recipient.person(person), notice, f"aud:{audit.ref}:reported:{person}")
    work.notify(Recipient.channel("isms_reports"), notice, f"aud:{audit.ref}:reported:channel")
    shares = [(Recipient.channel("isms_reports"), f"aud:{audit.ref}:report-file:channel")]
    shares += [(Recipient.person(person), f"aud:{audit.ref}:report-file:{person}") for person in audit.auditor_ids]
    title = f"Internal audit report {audit.ref}"
    filename = dated_name("audit-report", audit.ref, work.now, ctx.org.zone, "html")
    share_each(
        work,
        shares,
        filename=filename,
        content=texts["html"].encode(),
        title=title,
        comment=f"{title}: the whole report (HTML).",
    )

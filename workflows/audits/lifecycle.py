"""The lifecycles of internal audits and their findings, who may take which step, and how ``run_step``
finds each.

An audit, each move a record:

    planned -> in-progress (the kick-off date: the tick starts it and asks the auditees for evidence)
    in-progress -> reported (an auditor marks it reported: the report is rendered, stored and posted)
    planned or in-progress -> cancelled (the ISMS manager, with a reason)

A planned audit can be moved (its dates shift together) without changing state.

A finding: open -> closed. A nonconformity closes only when the change of its corrective action is
verified (CHG's "change-finished"); an observation or opportunity is closed by its auditor.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.audits import Audit, Finding
from workflows.kernel.access import Allowed
from workflows.kernel.steps import Items, Lifecycle


class AuditState(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    REPORTED = "reported"
    CANCELLED = "cancelled"


LIFECYCLE: Lifecycle[AuditState] = Lifecycle(
    {
        AuditState.PLANNED: frozenset({AuditState.IN_PROGRESS, AuditState.CANCELLED}),
        AuditState.IN_PROGRESS: frozenset({AuditState.REPORTED, AuditState.CANCELLED}),
    }
)
ENDED = (AuditState.REPORTED, AuditState.CANCELLED)
"""States in which an audit has nothing more to remind anybody of."""


class FindingKind(StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    OBSERVATION = "observation"
    OPPORTUNITY = "opportunity"


KIND_LABELS: dict[str, str] = {
    FindingKind.MAJOR: "major nonconformity",
    FindingKind.MINOR: "minor nonconformity",
    FindingKind.OBSERVATION: "observation",
    FindingKind.OPPORTUNITY: "opportunity for improvement",
}
NONCONFORMITIES = frozenset({FindingKind.MAJOR, FindingKind.MINOR})


class FindingState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


FINDING_LIFECYCLE: Lifecycle[FindingState] = Lifecycle({FindingState.OPEN: frozenset({FindingState.CLOSED})})

PLANNERS = frozenset({Role.ISMS_MANAGER})
"""Plan audits in chat, and close findings besides the audit's auditors."""
VERIFIED = "verified"
"""The state of a change that closes a nonconformity."""


def auditors_of(audit: Audit) -> Allowed:
    """Findings and the report are the audit's auditors' only."""
    return Allowed(frozenset(), named=tuple(audit.auditor_ids), named_as="auditor")


def load_audit(session: Session, ref: str, lock: bool) -> Audit | None:
    query = select(Audit).where(Audit.ref == ref.strip().upper())
    return session.scalar(query.with_for_update() if lock else query)


def load_finding(session: Session, ref: str, lock: bool) -> Finding | None:
    query = select(Finding).where(Finding.ref == ref.strip().upper())
    return session.scalar(query.with_for_update() if lock else query)


def no_audit(ref: str) -> str:
    return f"There is no audit {ref}. /isms audits lists the audit programme."


def _audits(not_now: Callable[[Session, Audit], str]) -> Items[Audit]:
    return Items(
        kind="audit",
        process="AUD",
        load=load_audit,
        lifecycle=LIFECYCLE,
        state_field="state",
        missing=no_audit,
        not_now=not_now,
    )


def audits_for(what: str, *, after: str) -> Items[Audit]:
    """The audits as a step sees them that is possible while an audit is in progress; the refusal
    says when ``what`` is possible, or ``after`` once the audit is reported."""

    def not_now(session: Session, audit: Audit) -> str:
        if audit.state == AuditState.CANCELLED:
            return f"{audit.ref} was cancelled."
        if audit.state == AuditState.PLANNED:
            kickoff = audit.kickoff.isoformat()
            return f"{audit.ref} has not started yet (kick-off {kickoff}): {what} is possible once it is in progress."
        return f"{audit.ref} was already reported{after}."

    return _audits(not_now)


TO_FIND = audits_for("recording findings", after=": findings can no longer be added")
TO_ASK = audits_for("asking for evidence", after=": no more evidence can be asked for it")
TO_REPORT = audits_for("reporting", after="")


TO_MOVE = _audits(
    lambda session, audit: (
        f"{audit.ref} is {audit.state.replace('-', ' ')}: only a planned audit can be moved (before its kick-off)."
    )
)
TO_CANCEL = _audits(lambda session, audit: f"{audit.ref} is already {audit.state}: it can no longer be cancelled.")
FINDINGS: Items[Finding] = Items(
    kind="finding",
    process="AUD",
    load=load_finding,
    lifecycle=FINDING_LIFECYCLE,
    state_field="state",
    missing=lambda ref: f"There is no finding {ref}.",
    not_now=lambda session, finding: f"{finding.ref} is already closed.",
)

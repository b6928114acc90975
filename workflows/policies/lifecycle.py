"""The life of a policy version, who may do what in the register, and how the step runner finds one.

    pending --the approver approves--> approved (published; an acknowledgement campaign starts)
    pending --the approver rejects---> rejected (the author is told why)

Both ends are final; every version is kept. Whoever wrote a version never approves it, even when they
could approve others (separation of duties): the refusal is recorded.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.awareness import PolicyVersion
from workflows.kernel.access import Allowed
from workflows.kernel.people import person_name, when
from workflows.kernel.steps import Items, Lifecycle
from workflows.kernel.work import Context

PROCESS_ID = "POL"


class VersionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


PENDING, APPROVED, REJECTED = VersionStatus.PENDING, VersionStatus.APPROVED, VersionStatus.REJECTED
LIFECYCLE = Lifecycle[VersionStatus]({PENDING: frozenset({APPROVED, REJECTED})})

AUTHORS = frozenset({Role.ISMS_MANAGER, Role.OWNER})
"""Write new policy versions (``/isms policy new``)."""
DEPUTIES = frozenset({Role.ISMS_MANAGER})
"""Decide on a version in place of its named approver (never on one they wrote)."""
READERS = frozenset(Role)
"""Everybody may read the register: policies are there to be read."""

NOT_FOUND = "I cannot find that policy version. It may belong to another ISMS."


def deciders(version: PolicyVersion) -> Allowed:
    """The approver named when the version was submitted, or an ISMS manager standing in."""
    return Allowed(DEPUTIES, owner=version.approver)


def load_version(session: Session, ref: str, lock: bool) -> PolicyVersion | None:
    if not ref.strip().isdigit():
        return None
    if lock:
        return session.get(PolicyVersion, int(ref), with_for_update=True, populate_existing=True)
    return session.get(PolicyVersion, int(ref))


def items(ctx: Context) -> Items[PolicyVersion]:
    return Items[PolicyVersion](
        kind="policy-version",
        process=PROCESS_ID,
        load=load_version,
        lifecycle=LIFECYCLE,
        state_field="status",
        missing=lambda ref: NOT_FOUND,
        not_now=lambda session, version: decided(ctx, version),
    )


def decided(ctx: Context, version: PolicyVersion) -> str:
    on = when(version.decided_at, ctx.org.zone) if version.decided_at else "earlier"
    return (
        f"Version {version.version} of {version.policy_id} was already {version.status} "
        f"by {person_name(ctx.org, version.decided_by)} on {on}."
    )

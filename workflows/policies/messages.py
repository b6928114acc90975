"""What people see of the policy register: the approval request, the decision, the announcement.

A version's messages name the details it proposes (title, owner, audience, next review); the register
shows the policy's approved ones, so the approver is also told which of them the version changes."""

from __future__ import annotations

from config.organisation import Organisation
from storage.models.awareness import Policy, PolicyVersion
from workflows.awareness.audience import described
from workflows.kernel.people import person_name, when
from workflows.kernel.ui import Button, Message
from workflows.policies.forms import APPROVE, REJECT_FORM
from workflows.policies.lifecycle import APPROVED, VersionStatus

MORE = "policy.more"
ALL_LIST = "all"


def label(version: PolicyVersion) -> str:
    return f"{version.policy_id} “{version.title}” version {version.version}"


def _fields(org: Organisation, version: PolicyVersion) -> tuple[tuple[str, str], ...]:
    fields = [("Document", version.link)]
    if version.sha256:
        fields.append(("SHA-256", version.sha256))
    elif version.slack_file_id and not version.file_error:
        fields.append(("SHA-256", "being computed from the shared document"))
    fields += [
        ("Written by", person_name(org, version.author)),
        ("Owner", person_name(org, version.owner_id)),
        ("Audience", described(org, version.audience)),
        ("Next review", version.next_review.isoformat()),
    ]
    return tuple(fields)


def changes(org: Organisation, policy: Policy, version: PolicyVersion) -> list[tuple[str, str, str]]:
    """What approving ``version`` would change in the register, as (what, new, now); nothing for a
    policy never published (its details are only the first proposal)."""
    if policy.version is None:
        return []
    pairs = (
        ("title", f"“{version.title}”", f"“{policy.title}”"),
        ("owner", person_name(org, version.owner_id), person_name(org, policy.owner_id)),
        ("approver", person_name(org, version.approver), person_name(org, policy.approver_id)),
        ("audience", described(org, version.audience), described(org, policy.audience)),
        ("next review", version.next_review.isoformat(), policy.next_review.isoformat()),
    )
    return [(what, new, old) for what, new, old in pairs if new != old]


def proposed(org: Organisation, policy: Policy, version: PolicyVersion) -> str:
    """The changes in full, e.g. "owner Olga Ortiz (now Alice Adams); next review …"; empty for none."""
    return "; ".join(f"{what} {new} (now {old})" for what, new, old in changes(org, policy, version))


def approval_request(org: Organisation, policy: Policy, version: PolicyVersion) -> Message:
    changed = proposed(org, policy, version)
    return Message(
        text=f"Policy {label(version)} waits for your approval",
        body=f"Approving it also changes the policy's {changed}." if changed else "",
        fields=_fields(org, version),
        buttons=(
            Button(APPROVE, "Approve and publish", str(version.id), "primary"),
            Button(REJECT_FORM, "Reject", str(version.id), "danger"),
        ),
        footer="Once approved it is announced and everybody in its audience is asked to acknowledge it.",
    )


def decision(org: Organisation, version: PolicyVersion, to: VersionStatus) -> Message:
    """What the approval request becomes once somebody decided (its buttons are gone)."""
    verdict = "Approved and published" if to == APPROVED else "Rejected"
    on = when(version.decided_at, org.zone) if version.decided_at else ""
    return Message(
        text=f"{verdict}: policy {label(version)}",
        body=version.comment or "",
        fields=(("Decided by", person_name(org, version.decided_by)), ("On", on)),
    )


def submitted(version: PolicyVersion, approver: str) -> Message:
    return Message(text=f"{label(version)} is with {approver} for approval.")


def published(org: Organisation, version: PolicyVersion, campaign: str | None) -> Message:
    fields = (*_fields(org, version), ("Approved by", person_name(org, version.decided_by)))
    if campaign:
        fields += (("Acknowledgement", f"campaign {campaign}"),)
    return Message(text=f"Policy published: {label(version)}", fields=fields)


def approved(version: PolicyVersion, campaign: str | None) -> Message:
    then = f"; campaign {campaign} asks its audience to acknowledge it" if campaign else ""
    return Message(text=f"Approved and published: {label(version)}{then}.")


def rejected(org: Organisation, version: PolicyVersion) -> Message:
    return Message(
        text=f"{label(version)} was rejected by {person_name(org, version.decided_by)}",
        body=version.comment or "",
    )


def own_version(org: Organisation, version: PolicyVersion) -> str:
    return (
        f"You wrote version {version.version} of {version.policy_id}, so you cannot approve it: "
        f"{person_name(org, version.approver)} does. This attempt has been recorded."
    )

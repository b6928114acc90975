"""What people see of the policy register: the approval request, the decision, the announcement."""

from __future__ import annotations

from config.organisation import Organisation
from storage.models.awareness import Policy, PolicyVersion
from workflows.awareness.audience import described
from workflows.kernel.people import person_name
from workflows.kernel.ui import Button, Message
from workflows.policies.forms import APPROVE, REJECT_FORM

MORE = "policy.more"
ALL_LIST = "all"


def label(policy: Policy, version: PolicyVersion) -> str:
    return f"{policy.id} “{policy.title}” version {version.version}"


def _fields(org: Organisation, policy: Policy, version: PolicyVersion) -> tuple[tuple[str, str], ...]:
    fields = [("Document", version.link)]
    if version.sha256:
        fields.append(("SHA-256", version.sha256))
    elif version.slack_file_id and not version.file_error:
        fields.append(("SHA-256", "being computed from the shared document"))
    fields += [
        ("Written by", person_name(org, version.author)),
        ("Owner", person_name(org, policy.owner_id)),
        ("Audience", described(org, policy.audience)),
        ("Next review", policy.next_review.isoformat()),
    ]
    return tuple(fields)


def approval_request(org: Organisation, policy: Policy, version: PolicyVersion) -> Message:
    return Message(
        text=f"Policy {label(policy, version)} waits for your approval",
        fields=_fields(org, policy, version),
        buttons=(
            Button(APPROVE, "Approve and publish", str(version.id), "primary"),
            Button(REJECT_FORM, "Reject", str(version.id), "danger"),
        ),
        footer="Once approved it is announced and everybody in its audience is asked to acknowledge it.",
    )


def submitted(policy: Policy, version: PolicyVersion, approver: str) -> Message:
    return Message(text=f"{label(policy, version)} is with {approver} for approval.")


def published(org: Organisation, policy: Policy, version: PolicyVersion, campaign: str | None) -> Message:
    fields = (*_fields(org, policy, version), ("Approved by", person_name(org, version.decided_by)))
    if campaign:
        fields += (("Acknowledgement", f"campaign {campaign}"),)
    return Message(text=f"Policy published: {label(policy, version)}", fields=fields)


def approved(policy: Policy, version: PolicyVersion, campaign: str | None) -> Message:
    then = f"; campaign {campaign} asks its audience to acknowledge it" if campaign else ""
    return Message(text=f"Approved and published: {label(policy, version)}{then}.")


def rejected(org: Organisation, policy: Policy, version: PolicyVersion) -> Message:
    return Message(
        text=f"{label(policy, version)} was rejected by {person_name(org, version.decided_by)}",
        body=version.comment or "",
    )


def own_version(org: Organisation, version: PolicyVersion) -> str:
    return (
        f"You wrote version {version.version} of {version.policy_id}, so you cannot approve it: "
        f"{person_name(org, version.approver)} does. This attempt has been recorded."
    )

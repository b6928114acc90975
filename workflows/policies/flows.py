"""Security policy management (POL): new versions, their approval, publication and acknowledgement.

A version comes from ``/isms policy new`` or from the organisation file (``awareness.policies``,
synced by the tick); either way ``add_version`` stores it as pending and asks its approver in chat.
The version keeps the details it proposes (title, owner, approver, audience, next review): the policy
takes them only when the version is approved, so the register never shows what nobody approved.
Approving publishes it: the policy's current version moves, the reports channel hears of it, and AWR
receives "policy-approved" in the same transaction and starts the acknowledgement campaign. Earlier
versions stay with their decisions and campaigns. Whoever wrote a version cannot decide on it. Either
decision turns the approver's request into a note of it, so no stale buttons remain in their DMs.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from storage.models.awareness import Campaign, Policy, PolicyVersion
from storage.models.outbox import OutboxEffect
from storage.outbox import DEAD
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.people import person_name
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Outcome
from workflows.kernel.work import CHAT_KIND, Context, Work
from workflows.outreach.mail import reach
from workflows.policies import forms, messages
from workflows.policies.documents import attach_document
from workflows.policies.forms import VersionInput
from workflows.policies.lifecycle import (
    APPROVED,
    AUTHORS,
    PENDING,
    PROCESS_ID,
    REJECTED,
    VersionStatus,
    decided,
    deciders,
    items,
)

WRITING = "writing policy versions"
DECIDING = "deciding on policy versions"


def open_new_form(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, AUTHORS, process=PROCESS_ID, what=WRITING, attempt=False)
    return Outcome(form=forms.version_form())


def validate(ctx: Context, actor: Actor, values: dict[str, str]) -> dict[str, str]:
    return forms.read(ctx, actor, values, ctx.clock())[1]


def submit_version(ctx: Context, actor: Actor, values: dict[str, str], key: str) -> Outcome:
    require(ctx, actor, AUTHORS, process=PROCESS_ID, what=WRITING)
    wanted, errors = forms.read(ctx, actor, values, ctx.clock())
    if wanted is None:
        return Outcome(errors=errors)
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say("This policy version was already sent for approval.")
        version = add_version(work, wanted, author=actor.id)
        return Outcome(reply=messages.submitted(version, person_name(ctx.org, wanted.approver)))


def add_version(work: Work, wanted: VersionInput, *, author: str) -> PolicyVersion:
    """Store a pending version with the details it proposes, record it and ask the approver. A new
    policy starts from those details (unpublished); an existing one keeps its own until approval."""
    policy = work.session.get(Policy, wanted.policy, with_for_update=True)
    if policy is None:
        policy = Policy(
            id=wanted.policy,
            version=None,
            title=wanted.title,
            owner_id=wanted.owner,
            approver_id=wanted.approver,
            audience=wanted.audience,
            next_review=wanted.next_review,
            updated_at=work.now,
        )
        work.session.add(policy)
    version = PolicyVersion(
        policy_id=wanted.policy,
        version=wanted.version,
        title=wanted.title,
        owner_id=wanted.owner,
        audience=wanted.audience,
        next_review=wanted.next_review,
        link=wanted.link,
        sha256=wanted.sha256,
        author=author,
        approver=wanted.approver,
        status=PENDING,
        submitted_at=work.now,
    )
    work.session.add(version)
    work.session.flush()
    if wanted.file is not None:
        attach_document(work, version, wanted.file)
    work.record(
        PROCESS_ID,
        "version-submitted",
        ("policy", policy.id),
        {
            "version": version.version,
            "title": version.title,
            "link": version.link,
            "sha256": version.sha256,
            "slack_file": version.slack_file_id,
            "author": author,
            "approver": wanted.approver,
            "owner": wanted.owner,
            "audience": wanted.audience,
            "next_review": wanted.next_review.isoformat(),
        },
    )
    ask = messages.approval_request(work.ctx.org, policy, version)
    reach(work, wanted.approver, ask, approval_key(version))
    return version


def approval_key(version: PolicyVersion) -> str:
    return f"pol:{version.id}:approval"


def _apply(work: Work, policy: Policy, version: PolicyVersion) -> dict[str, list[str]]:
    """Make the approved version's details the policy's; returns what changed as {field: [old, new]}."""
    wanted = {
        "title": version.title,
        "owner_id": version.owner_id,
        "approver_id": version.approver,
        "audience": version.audience,
        "next_review": version.next_review,
    }
    changed = {
        field: [str(getattr(policy, field)), str(value)]
        for field, value in wanted.items()
        if getattr(policy, field) != value
    }
    for field, value in wanted.items():
        setattr(policy, field, value)
    policy.updated_at = work.now
    return changed


def _close_request(work: Work, version: PolicyVersion, to: VersionStatus) -> None:
    """Replace the approver's request (its buttons) with the decision, when it went to them in chat.

    A request that went by mail, or whose DM Slack refused for good, has no chat message to update."""
    asked = work.session.scalar(
        select(OutboxEffect.kind).where(OutboxEffect.key == approval_key(version), OutboxEffect.status != DEAD)
    )
    if asked != CHAT_KIND:
        return
    work.notify(
        Recipient.person(version.approver),
        messages.decision(work.ctx.org, version, to),
        f"pol:{version.id}:decided",
        replaces=approval_key(version),
    )


def _not_the_author(ctx: Context, actor: Actor, value: str) -> None:
    """Separation of duties: the author is refused (and it is recorded) before any step runs."""
    version = items(ctx).find(ctx, value)
    if version is None or version.author != actor.id:
        return
    with ctx.work(actor) as work:
        work.record(
            PROCESS_ID,
            "decision-refused",
            ("policy", version.policy_id),
            {"version": version.version, "reason": "the author cannot decide on their own version"},
        )
    raise Refused(messages.own_version(ctx.org, version))


def approve(ctx: Context, actor: Actor, value: str, key: str) -> Outcome:
    _not_the_author(ctx, actor, value)

    def step(work: Work, version: PolicyVersion) -> Outcome:
        policy = work.session.get(Policy, version.policy_id, with_for_update=True)
        assert policy is not None
        version.decided_by, version.decided_at = actor.id, work.now
        previous, policy.version = policy.version, version.version
        changed = _apply(work, policy, version)
        work.record(
            PROCESS_ID,
            "version-approved",
            ("policy", policy.id),
            {"version": version.version, "replaces": previous, "sha256": version.sha256, "changed": changed},
        )
        _close_request(work, version, APPROVED)
        publish(
            work,
            Interface(
                PROCESS_ID,
                "AWR",
                "policy-approved",
                f"{policy.id}:{version.version}",
                {
                    "policy": policy.id,
                    "version": version.version,
                    "title": policy.title,
                    "link": version.link,
                    "audience": policy.audience,
                },
            ),
        )
        campaign = work.session.scalar(
            select(Campaign).where(Campaign.policy_id == policy.id, Campaign.policy_version == version.version)
        )
        version.campaign_id = campaign.id if campaign else None
        ref = campaign.ref if campaign else None
        work.notify(
            Recipient.channel("isms_reports"),
            messages.published(ctx.org, version, ref),
            f"pol:{version.id}:published",
        )
        work.record(PROCESS_ID, "published", ("policy", policy.id), {"version": version.version, "campaign": ref})
        if version.author != actor.id and ctx.org.person(version.author):
            reach(work, version.author, messages.approved(version, ref), f"pol:{version.id}:approved")
        return Outcome(reply=messages.approved(version, ref))

    return _decide(ctx, actor, value, key, step, APPROVED)


def open_reject_form(ctx: Context, actor: Actor, value: str) -> Outcome:
    _not_the_author(ctx, actor, value)
    version = items(ctx).find(ctx, value)
    if version is None:
        raise Refused(items(ctx).missing(value))
    require(ctx, actor, deciders(version), process=PROCESS_ID, what=DECIDING, subject=("policy", version.policy_id))
    if version.status != PENDING:
        raise Refused(decided(ctx, version))
    return Outcome(form=forms.reject_form(version.id, f"{version.policy_id} version {version.version}"))


def reject(ctx: Context, actor: Actor, value: str, reason: str, key: str) -> Outcome:
    _not_the_author(ctx, actor, value)

    def step(work: Work, version: PolicyVersion) -> Outcome:
        version.decided_by, version.decided_at, version.comment = actor.id, work.now, reason.strip()
        work.record(
            PROCESS_ID,
            "version-rejected",
            ("policy", version.policy_id),
            {"version": version.version, "reason": version.comment},
        )
        _close_request(work, version, REJECTED)
        if ctx.org.person(version.author):
            reach(work, version.author, messages.rejected(ctx.org, version), f"pol:{version.id}:rejected")
        return Outcome.say(f"Rejected {messages.label(version)}; {person_name(ctx.org, version.author)} is told why.")

    return _decide(ctx, actor, value, key, step, REJECTED)


def _decide(
    ctx: Context,
    actor: Actor,
    value: str,
    key: str,
    step: Callable[[Work, PolicyVersion], Outcome],
    to: VersionStatus,
) -> Outcome:
    return run_step(
        ctx,
        actor,
        items(ctx),
        value,
        key=key,
        what=DECIDING,
        allowed=deciders,
        step=step,
        to=to,
    )

"""Security policy management (POL): new versions, their approval, publication and acknowledgement.

A version comes from ``/isms policy new`` or from the organisation file (``awareness.policies``,
synced by the tick); either way ``add_version`` stores it as pending and asks its approver in chat.
Approving publishes it: the policy's current version moves, the reports channel hears of it, and AWR
receives "policy-approved" in the same transaction and starts the acknowledgement campaign. Earlier
versions stay with their decisions and campaigns. Whoever wrote a version cannot decide on it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from storage.models.awareness import Campaign, Policy, PolicyVersion
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.people import person_name
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context, Work
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
        policy, version = add_version(work, wanted, author=actor.id)
        return Outcome(reply=messages.submitted(policy, version, person_name(ctx.org, wanted.approver)))


def add_version(work: Work, wanted: VersionInput, *, author: str) -> tuple[Policy, PolicyVersion]:
    """Store a pending version (and the policy, when new), record it and ask the approver."""
    policy = work.session.get(Policy, wanted.policy, with_for_update=True)
    if policy is None:
        policy = Policy(id=wanted.policy, version=None)
        work.session.add(policy)
    policy.title, policy.owner_id, policy.approver_id = wanted.title, wanted.owner, wanted.approver
    policy.audience, policy.next_review, policy.updated_at = wanted.audience, wanted.next_review, work.now
    version = PolicyVersion(
        policy_id=wanted.policy,
        version=wanted.version,
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
            "title": policy.title,
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
    reach(work, wanted.approver, ask, f"pol:{version.id}:approval")
    return policy, version


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
        previous, policy.version, policy.updated_at = policy.version, version.version, work.now
        work.record(
            PROCESS_ID,
            "version-approved",
            ("policy", policy.id),
            {"version": version.version, "replaces": previous, "sha256": version.sha256},
        )
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
            messages.published(ctx.org, policy, version, ref),
            f"pol:{version.id}:published",
        )
        work.record(PROCESS_ID, "published", ("policy", policy.id), {"version": version.version, "campaign": ref})
        if version.author != actor.id and ctx.org.person(version.author):
            reach(work, version.author, messages.approved(policy, version, ref), f"pol:{version.id}:approved")
        return Outcome(reply=messages.approved(policy, version, ref))

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
        policy = work.session.get(Policy, version.policy_id)
        assert policy is not None
        version.decided_by, version.decided_at, version.comment = actor.id, work.now, reason.strip()
        work.record(
            PROCESS_ID,
            "version-rejected",
            ("policy", policy.id),
            {"version": version.version, "reason": version.comment},
        )
        if ctx.org.person(version.author):
            reach(work, version.author, messages.rejected(ctx.org, policy, version), f"pol:{version.id}:rejected")
        return Outcome.say(
            f"Rejected {messages.label(policy, version)}; {person_name(ctx.org, version.author)} is told why."
        )

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

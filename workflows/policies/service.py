"""What the policy register answers: the policies with their published version and approved details,
what waits for approval (and which details it would change), review dates and acknowledgement
progress; one policy's history; the status lines."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models.awareness import Campaign, Policy, PolicyVersion
from workflows.awareness.messages import share
from workflows.awareness.service import progress
from workflows.kernel.access import Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.paging import HOME_ITEMS, page_message, window
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.policies import messages
from workflows.policies.lifecycle import PENDING, PROCESS_ID, READERS
from workflows.policies.messages import ALL_LIST, MORE


def _pending(session: Session, policy_ids: list[str]) -> dict[str, list[PolicyVersion]]:
    rows = session.scalars(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id.in_(policy_ids), PolicyVersion.status == PENDING)
        .order_by(PolicyVersion.id)
    )
    found: dict[str, list[PolicyVersion]] = {}
    for version in rows:
        found.setdefault(version.policy_id, []).append(version)
    return found


def _proposal(ctx: Context, policy: Policy, version: PolicyVersion) -> str:
    """A pending version and, when the policy is published, which details approving it would change
    (named only: ``/isms policies <id>`` shows them in full)."""
    changed = [what for what, _, _ in messages.changes(ctx.org, policy, version)]
    return version.version + (f" (would change {', '.join(changed)})" if changed else "")


def _acknowledged(session: Session, policies: list[Policy]) -> dict[str, tuple[str, int, int]]:
    """Policy id -> (campaign ref, done, total) of its published version's campaign."""
    current = {p.id: p.version for p in policies if p.version}
    rows = session.execute(
        select(Campaign.policy_id, Campaign.policy_version, Campaign.id, Campaign.ref).where(
            Campaign.policy_id.in_(list(current))
        )
    ).all()
    wanted = {pid: (cid, ref) for pid, version, cid, ref in rows if pid is not None and current.get(pid) == version}
    counts = progress(session, [cid for cid, _ in wanted.values()])
    return {pid: (ref, *counts.get(cid, (0, 0))) for pid, (cid, ref) in wanted.items()}


def policies(ctx: Context, actor: Actor, offset: int = 0) -> Outcome:
    """``/isms policies``: every policy with its published version, pending versions, review date and
    how many acknowledged it."""
    require(ctx, actor, READERS, process=PROCESS_ID, what="the policy register", attempt=False)
    today = ctx.clock().astimezone(ctx.org.zone).date()
    with ctx.read() as session:
        total = session.scalar(select(func.count()).select_from(Policy)) or 0
        waiting = session.scalar(select(func.count()).select_from(PolicyVersion).where(PolicyVersion.status == PENDING))
        overdue = session.scalar(select(func.count()).select_from(Policy).where(Policy.next_review < today))
        page = window(total, offset)
        shown = list(session.scalars(select(Policy).order_by(Policy.id).offset(page.offset).limit(page.size)))
        pending = _pending(session, [p.id for p in shown])
        acknowledged = _acknowledged(session, shown)
    lines = []
    for policy in shown:
        line = f"{policy.id} “{policy.title}”: " + (f"version {policy.version}" if policy.version else "not published")
        line += f", owner {person_name(ctx.org, policy.owner_id)}, next review {policy.next_review.isoformat()}"
        if policy.id in acknowledged:
            ref, done, of = acknowledged[policy.id]
            line += f", acknowledged {share(done, of)} ({ref})"
        if policy.id in pending:
            line += f"; awaiting approval: {', '.join(_proposal(ctx, policy, v) for v in pending[policy.id])}"
        lines.append(line)
    return Outcome(
        reply=page_message(
            title="Policy register",
            lines=lines,
            page=page,
            more=MORE,
            name=ALL_LIST,
            counts=(
                ("Policies", f"{total:,}"),
                ("Awaiting approval", f"{waiting or 0:,}"),
                ("Review overdue", f"{overdue or 0:,}"),
            ),
            note="" if lines else "The register is empty. /isms policy new adds a policy.",
            footer="/isms policies <id> shows every version of one policy.",
        )
    )


def history(ctx: Context, actor: Actor, policy_id: str) -> Outcome:
    """``/isms policies POL-ACCESS``: the approved details, then every version kept, with its decision,
    hash and campaign; a pending version with the changes it proposes."""
    require(ctx, actor, READERS, process=PROCESS_ID, what="the policy register", attempt=False)
    policy_id = policy_id.strip().upper()
    with ctx.read() as session:
        policy = session.get(Policy, policy_id)
        if policy is None:
            raise Refused(f"There is no policy {policy_id}. /isms policies lists them.")
        versions = list(
            session.scalars(
                select(PolicyVersion).where(PolicyVersion.policy_id == policy_id).order_by(PolicyVersion.id.desc())
            )
        )
        campaigns = {
            c.id: c.ref
            for c in session.scalars(select(Campaign).where(Campaign.id.in_([v.campaign_id for v in versions])))
        }
        counts = progress(session, list(campaigns))
    lines = []
    for version in versions[:20]:
        line = f"version {version.version}: {version.status}"
        if version.status == PENDING:
            line += f" with {person_name(ctx.org, version.approver)}"
            changed = messages.proposed(ctx.org, policy, version)
            line += f", proposes {changed}" if changed else ""
        if version.decided_at:
            line += f" by {person_name(ctx.org, version.decided_by)} on {when(version.decided_at, ctx.org.zone)}"
        line += f"; written by {person_name(ctx.org, version.author)}"
        if version.sha256:
            line += f"; SHA-256 {version.sha256}"
        if version.campaign_id in campaigns:
            line += (
                f"; acknowledged {share(*counts.get(version.campaign_id, (0, 0)))} ({campaigns[version.campaign_id]})"
            )
        lines.append(line)
    return Outcome.say(
        f"{policy.id} “{policy.title}”",
        body="\n".join(lines),
        fields=(
            ("Published", policy.version or "not yet"),
            ("Owner", person_name(ctx.org, policy.owner_id)),
            ("Approver", person_name(ctx.org, policy.approver_id)),
            ("Next review", policy.next_review.isoformat()),
        ),
    )


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """``/isms status``: the register's size, versions awaiting approval, reviews due soon or overdue."""
    today = now.astimezone(ctx.org.zone).date()
    total = session.scalar(select(func.count()).select_from(Policy)) or 0
    if not total:
        return []
    waiting = session.scalar(select(func.count()).select_from(PolicyVersion).where(PolicyVersion.status == PENDING))
    soon = today + timedelta(days=ctx.org.awareness.review_lead_days)
    overdue = session.scalar(select(func.count()).select_from(Policy).where(Policy.next_review < today)) or 0
    due = session.scalar(select(func.count()).select_from(Policy).where(Policy.next_review <= soon)) or 0
    return [
        f"Policies: {plural(total, 'policy', 'policies')}, {plural(waiting or 0, 'version')} awaiting approval, "
        f"{plural(due, 'review')} due within {ctx.org.awareness.review_lead_days} days ({overdue:,} overdue)"
    ]


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """The versions waiting for this person's approval, oldest first, each with Approve and Reject (an
    approver who missed the DM finds them on the App Home)."""
    mine = (PolicyVersion.approver == actor.id, PolicyVersion.status == PENDING)
    with ctx.read() as session:
        count = session.scalar(select(func.count()).select_from(PolicyVersion).where(*mine)) or 0
        rows = session.execute(
            select(Policy, PolicyVersion)
            .join(PolicyVersion, PolicyVersion.policy_id == Policy.id)
            .where(*mine)
            .order_by(PolicyVersion.id)
            .limit(HOME_ITEMS)
        ).all()
        items = [messages.approval_request(ctx.org, policy, version) for policy, version in rows]
    if count > len(rows):
        items.append(Message(text=f"{plural(count, 'policy version')} wait for your approval; these are the oldest."))
    return items

"""POL's due work for the scheduler's tick: versions declared in the organisation file go to their
approver, and a policy whose review date is near becomes an evidence request for its owner.

Both are safe to run twice and on two replicas: a version is unique per policy and number, and the
evidence request is unique per activity key and period (the review date), so each is created once.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from config.awareness_settings import PolicyEntry
from storage.models.awareness import Policy, PolicyVersion
from storage.models.evidence import EvidenceRequest
from workflows.evidence.activities import add_request_once
from workflows.evidence.lifecycle import EvidenceStatus
from workflows.kernel.actors import SYSTEM
from workflows.kernel.quiet_hours import next_allowed
from workflows.kernel.timezones import zone_for
from workflows.kernel.work import Context
from workflows.policies.documents import collect_document_hashes
from workflows.policies.flows import add_version
from workflows.policies.forms import VersionInput
from workflows.policies.lifecycle import PROCESS_ID

log = logging.getLogger(__name__)
CHUNK = 1 << 20
REVIEW_CLAUSE = "27001:5.2"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (a policy document may be a large PDF)."""
    digest = hashlib.sha256()
    with path.open("rb") as document:
        while chunk := document.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sync_file_policies(ctx: Context) -> int:
    """Send every version the organisation file names and the register lacks to its approver."""
    entries = ctx.org.awareness.policies
    if not entries:
        return 0
    with ctx.read() as session:
        known = set(
            session.execute(
                select(PolicyVersion.policy_id, PolicyVersion.version).where(
                    PolicyVersion.policy_id.in_([entry.id for entry in entries])
                )
            ).all()
        )
    added = 0
    for entry in entries:
        if (entry.id, entry.version) in known:
            continue
        with ctx.work(SYSTEM) as work:
            if work.session.scalar(
                select(PolicyVersion.id).where(
                    PolicyVersion.policy_id == entry.id, PolicyVersion.version == entry.version
                )
            ):
                continue  # another replica got there first
            add_version(work, _input(entry), author=entry.owner)
            added += 1
    return added


def _input(entry: PolicyEntry) -> VersionInput:
    sha = None
    if entry.file:
        try:
            sha = sha256_of(Path(entry.file))
        except OSError as error:
            log.warning("policy %s: cannot read %s to hash it: %s", entry.id, entry.file, error)
    return VersionInput(
        entry.id,
        entry.title,
        entry.version,
        entry.link,
        sha,
        None,
        entry.owner,
        entry.approver,
        entry.next_review,
        entry.audience,
    )


def request_reviews(ctx: Context) -> int:
    """An evidence request "review the policy" for each published policy whose review date is within
    ``awareness.review_lead_days`` and was not asked for yet; the evidence engine chases the owner."""
    now = ctx.clock()
    horizon = (now + timedelta(days=ctx.org.awareness.review_lead_days)).astimezone(ctx.org.zone).date()
    due = (
        Policy.version.is_not(None),
        Policy.next_review <= horizon,
        or_(Policy.review_asked_for.is_(None), Policy.review_asked_for != Policy.next_review),
    )
    with ctx.read() as session:
        ids = list(session.scalars(select(Policy.id).where(*due)))
    for policy_id in ids:
        with ctx.work(SYSTEM) as work:
            policy = work.session.get(Policy, policy_id, with_for_update=True)
            if policy is None or policy.review_asked_for == policy.next_review:
                continue
            request = _review_request(ctx, policy, work.session, now)
            created = add_request_once(work.session, request)
            policy.review_asked_for = policy.next_review
            work.record(
                PROCESS_ID,
                "review-requested",
                ("policy", policy.id),
                {
                    "version": policy.version,
                    "review_date": policy.next_review.isoformat(),
                    "owner": policy.owner_id,
                    "evidence": request.ref if created else None,
                },
            )
    return len(ids)


def _review_request(ctx: Context, policy: Policy, session: Session, now: datetime) -> EvidenceRequest:
    zone = zone_for(session, ctx.org, policy.owner_id)
    return EvidenceRequest(
        activity_key=f"POL/review-{policy.id.lower()}"[:120],
        period=policy.next_review.isoformat(),
        process=PROCESS_ID,
        title=f"Review the policy {policy.title} (version {policy.version})"[:200],
        clause=REVIEW_CLAUSE,
        evidence_kind="text",
        period_start=now.astimezone(ctx.org.zone).date(),
        period_end=policy.next_review,
        owner_id=policy.owner_id,
        status=EvidenceStatus.OPEN,
        due_at=datetime.combine(policy.next_review, ctx.org.activities.due_time, tzinfo=ctx.org.zone),
        created_at=now,
        round=0,
        step=0,
        next_action_at=next_allowed(now, zone, ctx.org.activities.quiet_hours),
        delegations=0,
    )


def due_policies(ctx: Context) -> None:
    sync_file_policies(ctx)
    collect_document_hashes(ctx)
    request_reviews(ctx)

"""The life of a campaign assignment, who may do what in campaigns, and how the step runner finds one.

open --the person confirms--> done (final; a second confirmation is told it is already done)
open --the ISMS manager closes the campaign early--> closed (no more reminders; a late confirmation is
                                                     told nothing more is needed)
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.awareness import Campaign, CampaignAssignment
from workflows.kernel.people import when
from workflows.kernel.steps import Items, Lifecycle
from workflows.kernel.work import Context

PROCESS_ID = "AWR"


class AssignmentStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CLOSED = "closed"


class CampaignKind(StrEnum):
    TRAINING = "training"
    POLICY = "policy"


OPEN, DONE, CLOSED = AssignmentStatus.OPEN, AssignmentStatus.DONE, AssignmentStatus.CLOSED
LIFECYCLE = Lifecycle[AssignmentStatus]({OPEN: frozenset({DONE, CLOSED})})

ORGANISERS = frozenset({Role.ISMS_MANAGER})
"""Start campaigns."""
OVERSEERS = frozenset({Role.ISMS_MANAGER, Role.AUDITOR, Role.MANAGEMENT})
"""See the completion of every campaign and who is missing."""

NOT_FOUND = "I cannot find that campaign item. It may belong to another ISMS."


def load_assignment(session: Session, ref: str, lock: bool) -> CampaignAssignment | None:
    if not ref.strip().isdigit():
        return None
    if lock:
        return session.get(CampaignAssignment, int(ref), with_for_update=True, populate_existing=True)
    return session.get(CampaignAssignment, int(ref))


def items(ctx: Context) -> Items[CampaignAssignment]:
    return Items[CampaignAssignment](
        kind="campaign-assignment",
        process=PROCESS_ID,
        load=load_assignment,
        lifecycle=LIFECYCLE,
        state_field="status",
        missing=lambda ref: NOT_FOUND,
        not_now=lambda session, assignment: already_done(ctx, session, assignment),
    )


def already_done(ctx: Context, session: Session, assignment: CampaignAssignment) -> str:
    campaign = session.get(Campaign, assignment.campaign_id)
    title = campaign.title if campaign else "this campaign"
    if assignment.status == CLOSED:
        return f"“{title}” was closed early by the ISMS manager; nothing more is needed from you."
    on = when(assignment.done_at, ctx.org.zone) if assignment.done_at else "earlier"
    return f"You already confirmed “{title}” on {on}. It is done; nothing more to do."

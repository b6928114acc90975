"""Awareness and competence (AWR): starting a campaign, and each person confirming it.

``start_campaign`` runs in the caller's unit of work (the ISMS manager's form, or POL publishing a
policy version), writes the campaign and one assignment per person (one multi-row insert, however
large the audience) and records it. The DMs are not queued here: each assignment's first step is
due at once (or when the person's quiet hours end), and ``ladder.advance_assignments`` queues them
200 per transaction, right after the form's commit and then on every tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from storage.counters import next_number
from storage.models.awareness import Campaign, CampaignAssignment
from workflows.awareness import forms, messages
from workflows.awareness.audience import AudienceError, department_map, resolve
from workflows.awareness.ladder import advance_assignments, first_step_at
from workflows.awareness.lifecycle import CLOSED, DONE, OPEN, ORGANISERS, PROCESS_ID, CampaignKind, items
from workflows.kernel.access import Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.people import when, with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.timezones import zone_for
from workflows.kernel.ui import Outcome
from workflows.kernel.validation import ref_and_reason
from workflows.kernel.work import Context, Work

STARTING = "starting awareness campaigns"
UNMAPPED_RECORDED = 200


def open_new_form(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, ORGANISERS, process=PROCESS_ID, what=STARTING, attempt=False)
    return Outcome(form=forms.campaign_form(ctx))


def validate(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    return forms.read(ctx, values, ctx.clock(), quick=True)[1]


def submit_campaign(ctx: Context, actor: Actor, values: dict[str, str], key: str) -> Outcome:
    """Start the campaign of the form, then send the DMs that are due at once."""
    require(ctx, actor, ORGANISERS, process=PROCESS_ID, what=STARTING)
    wanted, errors = forms.read(ctx, values, ctx.clock())
    if wanted is None:  # only what the quick check could not see: a group found empty, Graph down
        problem = errors.pop("audience", "")
        return Outcome(errors=errors) if errors else Outcome.say(f"The campaign was not started: {problem}")
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say("This campaign was already started.")
        campaign = start_campaign(
            work,
            kind=wanted.kind,
            title=wanted.title,
            link=wanted.link,
            text=wanted.text,
            audience=wanted.audience,
            people=wanted.people,
            due_at=wanted.due_at,
            remind_before=wanted.remind_before,
            version=wanted.version,
            unmapped=wanted.unmapped,
        )
        zone = zone_for(work.session, ctx.org, actor.id)
        reply = messages.started(ctx.org, campaign, len(wanted.people), zone, wanted.unmapped)
    advance_assignments(ctx)
    return Outcome(reply=reply)


def start_campaign(
    work: Work,
    *,
    kind: CampaignKind,
    title: str,
    link: str,
    text: str,
    audience: str,
    people: list[str],
    due_at: datetime,
    remind_before: list[int],
    version: str | None = None,
    policy_id: str | None = None,
    unmapped: tuple[str, ...] = (),
) -> Campaign:
    """Write a campaign and its assignments in ``work`` and record it; the tick sends the DMs.
    ``unmapped``: channel members outside the organisation file, kept in the record (the first
    ``UNMAPPED_RECORDED``) so it shows later who the campaign did not reach."""
    ref = f"AWR-{next_number(work.session, PROCESS_ID):04d}"
    campaign = Campaign(
        ref=ref,
        kind=kind,
        title=title,
        link=link,
        text=text or None,
        policy_id=policy_id,
        policy_version=version,
        audience=audience,
        due_at=due_at,
        remind_before=list(remind_before),
        created_by=work.actor.id,
        created_at=work.now,
    )
    work.session.add(campaign)
    work.session.flush()
    first = first_step_at(work.ctx, work.session, people, work.now)
    departments = department_map(work.ctx, work.session)
    work.session.execute(
        insert(CampaignAssignment),
        [
            {
                "campaign_id": campaign.id,
                "person_id": person,
                "department": departments.get(person),
                "status": OPEN,
                "step": 0,
                "next_action_at": first[person],
            }
            for person in people
        ],
    )
    work.record(
        PROCESS_ID,
        "campaign-started",
        ("campaign", ref),
        {
            "kind": kind,
            "title": title,
            "link": link,
            "policy": policy_id,
            "version": version,
            "audience": audience,
            "people": len(people),
            "due": due_at.isoformat(),
            "remind_before_days": list(remind_before),
        }
        | ({"unmapped": len(unmapped), "unmapped_members": list(unmapped[:UNMAPPED_RECORDED])} if unmapped else {}),
    )
    return campaign


def complete(ctx: Context, actor: Actor, value: str, key: str) -> Outcome:
    """The person's button: recorded once; a second press is told it is already done."""

    def step(work: Work, assignment: CampaignAssignment) -> Outcome:
        campaign = work.session.get(Campaign, assignment.campaign_id, with_for_update=True)
        assert campaign is not None
        assignment.done_at, assignment.next_action_at = work.now, None
        work.record(
            PROCESS_ID,
            "completed",
            ("campaign", campaign.ref),
            {"person": assignment.person_id, "kind": campaign.kind, "policy": campaign.policy_id}
            | ({"version": campaign.policy_version} if campaign.policy_version else {}),
        )
        _complete_campaign(work, campaign, assignment)
        return Outcome(reply=messages.thanks(campaign, work.now, zone_for(work.session, ctx.org, actor.id)))

    return run_step(
        ctx,
        actor,
        items(ctx),
        value,
        key=key,
        what="confirming somebody else's campaign item",
        allowed=lambda assignment: Allowed(frozenset(), owner=assignment.person_id),
        step=step,
        to=DONE,
        again=Outcome.say("Already recorded; thank you."),
    )


CLOSE_USAGE = "Use /isms campaign close AWR-0001 <why it is closed>."
CLOSING = "closing a campaign"


def close_campaign(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms campaign close AWR-n <why>``: a campaign no longer wanted ends now. Whoever has not
    confirmed gets no more reminders or escalations, and a late press of their button is told nothing
    more is needed; what was confirmed stays, and completion keeps counting the rest as not done."""
    require(ctx, actor, ORGANISERS, process=PROCESS_ID, what=CLOSING)
    ref, reason = ref_and_reason(text, CLOSE_USAGE)
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say(f"{ref.upper()} was already closed.")
        campaign = work.session.scalar(select(Campaign).where(Campaign.ref == ref.upper()).with_for_update())
        if campaign is None:
            raise Refused(f"There is no campaign {ref}. /isms campaigns lists them.")
        if campaign.completed_at is not None:
            raise Refused(f"{campaign.ref} has already ended ({when(campaign.completed_at, ctx.org.zone)}).")
        closing = (
            update(CampaignAssignment)
            .where(CampaignAssignment.campaign_id == campaign.id, CampaignAssignment.status == OPEN)
            .values(status=CLOSED, next_action_at=None)
            .returning(CampaignAssignment.id)
        )
        stopped = len(work.session.execute(closing).all())
        total = work.session.scalar(
            select(func.count()).select_from(CampaignAssignment).where(CampaignAssignment.campaign_id == campaign.id)
        )
        campaign.completed_at = work.now
        done = int(total or 0) - stopped
        work.record(
            PROCESS_ID,
            "campaign-closed",
            ("campaign", campaign.ref),
            {"reason": reason, "people": total, "done": done, "not_done": stopped},
        )
        return Outcome.say(
            f"{campaign.ref} is closed: {messages.share(done, int(total or 0))} had confirmed "
            f"{messages.what(campaign)}; the other {stopped:,} get no more reminders."
        )


def _complete_campaign(work: Work, campaign: Campaign, assignment: CampaignAssignment) -> None:
    """The last person's confirmation completes the campaign (the campaign row is locked, so two last
    confirmations at once are serialised and the second sees nobody open)."""
    still_open = work.session.scalar(
        select(func.count())
        .select_from(CampaignAssignment)
        .where(
            CampaignAssignment.campaign_id == campaign.id,
            CampaignAssignment.status == OPEN,
            CampaignAssignment.id != assignment.id,
        )
    )
    if still_open:
        return
    total = work.session.scalar(
        select(func.count()).select_from(CampaignAssignment).where(CampaignAssignment.campaign_id == campaign.id)
    )
    campaign.completed_at = work.now
    work.record(PROCESS_ID, "campaign-completed", ("campaign", campaign.ref), {"people": total})
    creator = campaign.created_by if work.ctx.org.person(campaign.created_by) else None
    for person in [creator] if creator else with_role(work.ctx.org, *ORGANISERS):
        work.notify(
            Recipient.person(person), messages.completed(campaign, total or 0), f"awr:{campaign.ref}:complete:{person}"
        )


def take_policy(work: Work, event: Interface) -> None:
    """POL -> AWR "policy-approved": everybody in the policy's audience acknowledges the new version
    by the organisation's deadline (``awareness.policy_due_days``), in the approver's unit of work."""
    ctx, data = work.ctx, event.data
    try:
        members = resolve(ctx, work.session, str(data["audience"]))
    except AudienceError as error:
        work.record(PROCESS_ID, "campaign-not-started", ("policy", event.subject_ref), {"reason": str(error)})
        return
    day = (work.now + timedelta(days=ctx.org.awareness.policy_due_days)).astimezone(ctx.org.zone).date()
    start_campaign(
        work,
        kind=CampaignKind.POLICY,
        title=str(data["title"]),
        link=str(data["link"]),
        text=str(data.get("summary") or ""),
        audience=str(data["audience"]),
        people=members.people,
        due_at=datetime.combine(day, ctx.org.activities.due_time, tzinfo=ctx.org.zone),
        remind_before=list(ctx.org.awareness.remind_before_days),
        version=str(data["version"]),
        policy_id=str(data["policy"]),
        unmapped=members.unmapped,
    )

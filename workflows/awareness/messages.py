"""What people see of campaigns: the ask with its button, reminders, the manager's note, the lists."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from config.organisation import Organisation
from storage.models.awareness import Campaign
from workflows.awareness.audience import described, unmapped_text
from workflows.awareness.lifecycle import CampaignKind
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.ui import Button, Message

DONE_ACTION = "awareness.done"
MORE = "awareness.more"
ALL_LIST, MISSING_LIST = "all", "missing"
ESCALATION_NAMES = 30
"""Names in a manager's note; the rest are counted."""


def confirm_label(campaign: Campaign) -> str:
    return "I have read and accept it" if campaign.kind == CampaignKind.POLICY else "I have completed it"


def what(campaign: Campaign) -> str:
    """The material as people read it: "the training X" or "the policy X, version 2"."""
    if campaign.kind == CampaignKind.POLICY:
        return f"the policy “{campaign.title}”, version {campaign.policy_version}"
    return f"the training “{campaign.title}”"


def _done(campaign: Campaign) -> str:
    """What confirming means, as a past participle: a policy is read and accepted, a training done."""
    return "read and accepted" if campaign.kind == CampaignKind.POLICY else "done"


def ask(campaign: Campaign, assignment_id: int, zone: ZoneInfo, *, kind: str, days: int = 0) -> Message:
    """The first DM (``ask``), a reminder before the due date (``remind``) or after it (``overdue``)."""
    verb = "read and accept" if campaign.kind == CampaignKind.POLICY else "complete"
    headline = {
        "ask": f"Please {verb} {what(campaign)}",
        "remind": f"Reminder: please {verb} {what(campaign)} by {when(campaign.due_at, zone)}",
        "overdue": f"Overdue by {plural(days, 'day')}: please {verb} {what(campaign)}",
    }[kind]
    return Message(
        text=headline,
        body=campaign.text or "",
        fields=(("Material", campaign.link), ("Due", when(campaign.due_at, zone)), ("Campaign", campaign.ref)),
        buttons=(Button(DONE_ACTION, confirm_label(campaign), str(assignment_id), "primary"),),
        footer="Press the button once you have done it; reminders stop then.",
    )


def escalation(org: Organisation, campaign: Campaign, people: list[str], zone: ZoneInfo, days: int) -> Message:
    """The manager's note about one or several people of theirs who have not confirmed yet."""
    names = [person_name(org, person) for person in people]
    who = names[0] if len(names) == 1 else f"{len(names)} people you manage"
    listed = (
        ""
        if len(names) == 1
        else ", ".join(names[:ESCALATION_NAMES])
        + (f" and {plural(len(names) - ESCALATION_NAMES, 'more')}. " if len(names) > ESCALATION_NAMES else ". ")
    )
    return Message(
        text=f"{who} {'has' if len(names) == 1 else 'have'} not yet {_done(campaign)} {what(campaign)}",
        body=f"{listed}It was due {when(campaign.due_at, zone)}, {plural(days, 'day')} ago. "
        "Please remind them; the bot keeps a record when they confirm.",
        fields=(("Material", campaign.link), ("Campaign", campaign.ref)),
    )


def thanks(campaign: Campaign, at: datetime, zone: ZoneInfo) -> Message:
    return Message(text=f"Thank you: recorded that you have {_done(campaign)} {what(campaign)} on {when(at, zone)}.")


def started(
    org: Organisation, campaign: Campaign, people: int, zone: ZoneInfo, unmapped: tuple[str, ...] = ()
) -> Message:
    """The reply to whoever started it; channel members the bot could not match are named, not dropped."""
    left_out = (
        f"Not included, because the organisation file does not list them ({len(unmapped):,}): "
        f"{unmapped_text(unmapped)}. Add them to the file and start a campaign for them if they should take part."
        if unmapped
        else ""
    )
    return Message(
        text=f"Campaign {campaign.ref} started: {what(campaign)}",
        body=left_out,
        fields=(
            ("Audience", described(org, campaign.audience)),
            ("People", f"{people:,}"),
            ("Due", when(campaign.due_at, zone)),
        ),
        footer="Each person gets a direct message now, or when their quiet hours end; /isms campaigns shows progress.",
    )


def completed(campaign: Campaign, people: int) -> Message:
    return Message(
        text=f"Campaign {campaign.ref} is complete: all {people:,} people have {_done(campaign)} {what(campaign)}."
    )


def share(done: int, total: int) -> str:
    """ "12 of 40 (30%)": counts first, the percentage rounded down so 99.9% never reads as 100% (and
    "0 of 0 (0%)" rather than a complete-looking 100% when nobody was asked)."""
    return f"{done:,} of {total:,} ({(100 * done) // total if total else 0}%)"

"""What evidence requests look like in chat: wording from ``evidence.j2``, fields and buttons here.

Due dates are shown in the recipient's own timezone with its name, so "Thu 31 Dec, 17:00" is never
ambiguous for somebody in another office.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from storage.models.evidence import EvidenceRequest, EvidenceSubmission
from workflows.kernel.people import person_name, when
from workflows.kernel.ui import Button, Message
from workflows.kernel.work import Context

KIND_LABELS = {
    "text": "a short written answer",
    "link": "a link",
    "file": "a file",
    "number": "a number",
    "approval": "your approval",
}

SUBMIT, NOT_APPLICABLE, DELEGATE = "evidence.submit", "evidence.not_applicable", "evidence.delegate"
ACCEPT, REJECT = "evidence.accept", "evidence.reject"

_DEFAULTS: dict[str, Any] = {
    "days": 0,
    "overdue": False,
    "next_rung": "",
    "note": "",
    "not_applicable": False,
    "reason": "",
    "comment": "",
    "reviewer": "",
    "actor": "",
    "new_owner": "",
}


def snooze_action(days: int) -> str:
    """Slack wants distinct action ids, so a snooze button carries its days in its id."""
    return f"evidence.snooze.{days}"


def notice(
    ctx: Context,
    request: EvidenceRequest,
    kind: str,
    zone: ZoneInfo,
    *,
    buttons: bool = False,
    extra_fields: tuple[tuple[str, str], ...] = (),
    **values: Any,
) -> Message:
    """One message about ``request``; ``kind`` picks the wording in evidence.j2."""
    try:
        process_name = ctx.catalogue.get(request.process).name
    except KeyError:
        process_name = request.process
    text = ctx.templates.text(
        "evidence.j2",
        **{**_DEFAULTS, **values},
        notice=kind,
        title=request.title,
        process=request.process,
        process_name=process_name,
        clause=request.clause or "",
        kind=KIND_LABELS.get(request.evidence_kind, "evidence"),
        period=request.period,
        period_start=request.period_start.isoformat(),
        period_end=request.period_end.isoformat(),
        due=when(request.due_at, zone),
        owner=person_name(ctx.org, request.owner_id),
    )
    headline, _, body = text.partition("\n")
    fields = (("Due", when(request.due_at, zone)), ("Reference", request.ref), *extra_fields)
    return Message(
        text=headline.strip(), body=body.strip(), fields=fields, buttons=owner_buttons(ctx, request) if buttons else ()
    )


def review_notice(
    ctx: Context,
    request: EvidenceRequest,
    submission: EvidenceSubmission,
    files: list[dict[str, object]],
    zone: ZoneInfo,
) -> Message:
    """What an ISMS manager is asked to review: the answer as handed in, with Accept and Reject."""
    shown: list[tuple[str, str]] = [("Owner", person_name(ctx.org, request.owner_id))]
    if submission.covers_from and submission.covers_to:
        shown.append(("Covers", f"{submission.covers_from.isoformat()} to {submission.covers_to.isoformat()}"))
    if submission.text and not submission.not_applicable:
        shown.append(("Evidence", submission.text[:1500]))
    if submission.link:
        shown.append(("Link", submission.link))
    if submission.number is not None:
        shown.append(("Number", f"{submission.number:g}"))
    if submission.approved is not None:
        shown.append(("Decision", "approved" if submission.approved else "not approved"))
    if files:
        shown.append(("Files", ", ".join(str(f["name"] or f["slack_file_id"]) for f in files)))
    message = notice(
        ctx,
        request,
        "review",
        zone,
        extra_fields=tuple(shown),
        actor=person_name(ctx.org, submission.submitted_by),
        not_applicable=submission.not_applicable,
        reason=submission.text or "",
    )
    return replace(message, buttons=review_buttons(request, submission.id))


def owner_buttons(ctx: Context, request: EvidenceRequest) -> tuple[Button, ...]:
    value = str(request.id)
    snoozes = tuple(
        Button(snooze_action(days), f"Snooze {days} day{'s' if days != 1 else ''}", value)
        for days in ctx.org.activities.snooze_days
    )
    return (
        Button(SUBMIT, "Submit evidence", value, "primary"),
        Button(NOT_APPLICABLE, "Not applicable", value),
        Button(DELEGATE, "Delegate", value),
        *snoozes,
    )


def review_buttons(request: EvidenceRequest, submission_id: int) -> tuple[Button, ...]:
    value = f"{request.id}:{submission_id}"
    return (Button(ACCEPT, "Accept", value, "primary"), Button(REJECT, "Reject", value, "danger"))

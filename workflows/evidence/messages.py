"""What evidence requests look like in chat: wording from ``evidence.j2``, fields and buttons here.

Due dates are shown in the recipient's own timezone with its name, so "Thu 31 Dec, 17:00" is never
ambiguous for somebody in another office.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from storage.models.evidence import EvidenceRequest
from workflows.kernel.ui import Button, Message
from workflows.kernel.work import Context

KIND_LABELS = {
    "text": "a short written answer",
    "link": "a link",
    "file": "a file",
    "number": "a number",
    "approval": "your approval",
}

SUBMIT, NOT_APPLICABLE, DELEGATE, SNOOZE = "evidence_submit", "evidence_na", "evidence_delegate", "evidence_snooze_"
ACCEPT, REJECT = "evidence_accept", "evidence_reject"

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


def when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y, %H:%M} ({zone.key})"


def person_name(ctx: Context, person_id: str) -> str:
    person = ctx.org.person(person_id)
    return person.name if person else person_id


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
        owner=person_name(ctx, request.owner_id),
    )
    headline, _, body = text.partition("\n")
    fields = (("Due", when(request.due_at, zone)), ("Reference", request.ref), *extra_fields)
    return Message(
        text=headline.strip(), body=body.strip(), fields=fields, buttons=owner_buttons(ctx, request) if buttons else ()
    )


def owner_buttons(ctx: Context, request: EvidenceRequest) -> tuple[Button, ...]:
    value = str(request.id)
    snoozes = tuple(
        Button(f"{SNOOZE}{days}", f"Snooze {days} day{'s' if days != 1 else ''}", value)
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

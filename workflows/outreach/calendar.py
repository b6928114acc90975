"""Calendar events as outbox effects: created once (Graph's ``transactionId`` is derived from the
event's key), moved by updating the same event, cancelled by cancelling it. The organiser is the
``microsoft365.mailbox``; ``integrations/graph/calendar.py`` sends them."""

from __future__ import annotations

from datetime import datetime

from workflows.kernel.access import Refused
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Work
from workflows.outreach.mail import address_of

EVENT_KIND = "calendar.event"


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendar times must carry a timezone")
    return moment.isoformat()


def _check(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Refused("An event must end after it starts.")


def schedule_event(
    work: Work,
    key: str,
    *,
    subject: str,
    start: datetime,
    end: datetime,
    attendees: list[Recipient],
    body: str = "",
    location: str = "",
) -> None:
    """Queue the creation of an event with attendees, once for ``key``."""
    _check(start, end)
    emails = sorted({address for a in attendees if (address := address_of(work.ctx.org, a))})
    if not emails:
        raise Refused("An event needs at least one attendee with an e-mail address.")
    work.effect(
        EVENT_KIND,
        key,
        {
            "action": "create",
            "event": key,
            "subject": subject[:250],
            "start": _when(start),
            "end": _when(end),
            "attendees": emails,
            "body": body,
            "location": location,
        },
    )


def reschedule_event(work: Work, key: str, *, start: datetime, end: datetime) -> None:
    """Queue moving the event of ``key`` (the same event is updated, no second one is created)."""
    _check(start, end)
    work.effect(
        EVENT_KIND,
        f"{key}:move:{_when(start)}:{_when(end)}",
        {"action": "update", "event": key, "replaces": key, "start": _when(start), "end": _when(end)},
    )


def cancel_event(work: Work, key: str, comment: str = "") -> None:
    """Queue the cancellation of the event of ``key`` (attendees get Outlook's cancellation)."""
    work.effect(EVENT_KIND, f"{key}:cancel", {"action": "cancel", "event": key, "replaces": key, "comment": comment})

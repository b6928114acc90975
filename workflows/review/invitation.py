"""The calendar invitation of a management review as an iCalendar file (RFC 5545, one VEVENT).

The UID is derived from the review's reference only, so every invitation of the same review names the
same event: a calendar that imported it once updates it when a later one (with a higher SEQUENCE)
arrives after a reschedule, instead of adding a second meeting. Times are written in UTC (``Z``),
which every calendar converts to its reader's zone; text is escaped and lines folded as the RFC says.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from config.organisation import Organisation
from storage.models.reviews import Review
from workflows.kernel.people import person_name

PRODID = "-//ISMS bot//Management review//EN"


def uid(review: Review) -> str:
    return f"{review.ref.lower()}@isms-bot"


def ics(org: Organisation, review: Review, now: datetime, *, description: str = "", cancelled: bool = False) -> str:
    """The invitation of ``review`` as an ``.ics`` text (CRLF line ends); ``cancelled``: the
    cancellation of the same event (``METHOD:CANCEL``, which a calendar applies to the UID it holds)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'REQUEST'}",
        "BEGIN:VEVENT",
        f"UID:{uid(review)}",
        f"DTSTAMP:{_utc(now)}",
        f"SEQUENCE:{review.sequence}",
        f"DTSTART:{_utc(review.starts_at)}",
        f"DTEND:{_utc(review.ends_at)}",
        f"SUMMARY:{_text(f'{review.title} ({review.ref})')}",
    ]
    if review.location:
        lines.append(f"LOCATION:{_text(review.location)}")
    if description:
        lines.append(f"DESCRIPTION:{_text(description)}")
    chair = org.person(review.chair)
    if chair is not None and chair.email:
        lines.append(f"ORGANIZER;CN={_param(chair.name)}:mailto:{chair.email}")
    for person_id in review.people:
        person = org.person(person_id)
        if person is None or not person.email:
            continue
        role = "CHAIR" if person_id == review.chair else "REQ-PARTICIPANT"
        lines.append(
            f"ATTENDEE;CN={_param(person_name(org, person_id))};ROLE={role};PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
            f":mailto:{person.email}"
        )
    lines += [f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}", "END:VEVENT", "END:VCALENDAR"]
    return "".join(f"{folded}\r\n" for folded in _fold(lines))


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped (RFC 5545 3.3.11)."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _param(value: str) -> str:
    """A parameter value (a name): quoted, without the characters a quoted value cannot hold."""
    return '"' + value.replace('"', "'").replace("\r", " ").replace("\n", " ") + '"'


def _fold(lines: Iterable[str]) -> Iterable[str]:
    """Lines longer than 75 octets continue on the next line after a space, never inside a character."""
    for line in lines:
        out: list[str] = []
        current = ""
        for char in line:
            limit = 75 if not out else 74
            if len((current + char).encode("utf-8")) > limit:
                out.append(current)
                current = char
            else:
                current += char
        out.append(current)
        yield "\r\n ".join(out)

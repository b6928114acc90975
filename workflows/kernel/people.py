"""One way to find a person and to print names and times for people, shared by every process."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.organisation import Organisation, Person, Role


def find_person(org: Organisation, value: str) -> Person | None:
    """A person by Slack user id (Slack's picker), person id or e-mail (both typed in the console)."""
    value = value.strip()
    if not value:
        return None
    return org.find(slack_id=value) or org.person(value) or org.find(email=value)


def person_name(org: Organisation, person_id: str | None) -> str:
    """The listed name, the raw id of somebody unlisted, or "nobody yet" for an empty slot."""
    if person_id is None:
        return "nobody yet"
    person = org.person(person_id)
    return person.name if person else person_id


_HOLDERS: dict[tuple[int, tuple[Role, ...]], tuple[Organisation, tuple[str, ...]]] = {}
_HOLDERS_KEPT = 256


def with_role(org: Organisation, *roles: Role) -> list[str]:
    """Person ids holding any of ``roles``, in the order of the organisation file.

    Remembered per organisation (it is immutable once loaded): a tick asks this for every reminder,
    and an organisation of thousands of people would otherwise be scanned each time.
    """
    key = (id(org), roles)
    known = _HOLDERS.get(key)
    if known is None or known[0] is not org:
        if len(_HOLDERS) >= _HOLDERS_KEPT:
            _HOLDERS.clear()
        known = (org, tuple(p.id for p in org.people if any(role in p.roles for role in roles)))
        _HOLDERS[key] = known
    return list(known[1])


def when(moment: datetime, zone: ZoneInfo) -> str:
    """A time as the reader reads it, in their zone, with the zone named so nobody guesses."""
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y, %H:%M} ({zone.key})"


def span(delta: timedelta) -> str:
    """A duration in the largest unit that keeps it readable: 15 min, 6 h, 3 days."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 72 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def ago(delta: timedelta) -> str:
    """How long ago, as a person says it: "just now" under a minute, else "15 min ago"."""
    return "just now" if abs(delta) < timedelta(minutes=1) else f"{span(delta)} ago"


def plural(count: int, one: str, many: str | None = None) -> str:
    """A count with its noun in the right number: "1 open change", "2 open changes", "1,204 entries"."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"

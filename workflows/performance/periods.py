"""Reporting periods: a year, a quarter, a month, an ISO week, or "since a date", as UTC boundaries
of the organisation's calendar (a month in Berlin starts at 23:00 UTC the day before)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.kernel.access import Refused


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC; ``label`` as people write it (``2026-Q4``)."""

    label: str
    start: datetime
    end: datetime
    zone: ZoneInfo

    def months(self) -> list[tuple[str, datetime, datetime]]:
        """The calendar months the period touches, each cut to the period, as ``(YYYY-MM, start, end)``."""
        local = self.start.astimezone(self.zone).date().replace(day=1)
        out: list[tuple[str, datetime, datetime]] = []
        while True:
            start = _at(local, self.zone)
            if start >= self.end:
                return out
            following = _next_month(local)
            out.append((f"{local:%Y-%m}", max(start, self.start), min(_at(following, self.zone), self.end)))
            local = following

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _at(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def year(value: int, zone: ZoneInfo) -> Period:
    return Period(str(value), _at(date(value, 1, 1), zone), _at(date(value + 1, 1, 1), zone), zone)


def quarter(value: int, number: int, zone: ZoneInfo) -> Period:
    first = date(value, 3 * number - 2, 1)
    last = _next_month(_next_month(_next_month(first)))
    return Period(f"{value}-Q{number}", _at(first, zone), _at(last, zone), zone)


def month(value: int, number: int, zone: ZoneInfo) -> Period:
    first = date(value, number, 1)
    return Period(f"{first:%Y-%m}", _at(first, zone), _at(_next_month(first), zone), zone)


def week(value: int, number: int, zone: ZoneInfo) -> Period:
    monday = date.fromisocalendar(value, number, 1)
    return Period(f"{value}-W{number:02d}", _at(monday, zone), _at(monday + timedelta(days=7), zone), zone)


def month_of(moment: datetime, zone: ZoneInfo) -> Period:
    local = moment.astimezone(zone)
    return month(local.year, local.month, zone)


def week_of(moment: datetime, zone: ZoneInfo) -> Period:
    iso = moment.astimezone(zone).isocalendar()
    return week(iso.year, iso.week, zone)


def quarter_of(moment: datetime, zone: ZoneInfo) -> Period:
    local = moment.astimezone(zone)
    return quarter(local.year, (local.month - 1) // 3 + 1, zone)


def since(day: date, now: datetime, zone: ZoneInfo) -> Period:
    """From the start of ``day`` until now (the end exclusive, a microsecond after now)."""
    return Period(f"since {day.isoformat()}", _at(day, zone), now + timedelta(microseconds=1), zone)


Maker = Callable[[re.Match[str], ZoneInfo], Period]
PATTERNS: tuple[tuple[re.Pattern[str], Maker], ...] = (
    (re.compile(r"^(\d{4})$"), lambda m, z: year(int(m[1]), z)),
    (re.compile(r"^(\d{4})-Q([1-4])$", re.I), lambda m, z: quarter(int(m[1]), int(m[2]), z)),
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), lambda m, z: month(int(m[1]), int(m[2]), z)),
    (re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$", re.I), lambda m, z: week(int(m[1]), int(m[2]), z)),
)
USAGE = "a period such as 2026, 2026-Q4, 2026-11, 2026-W49 or since 2026-10-01"


def parse(text: str, zone: ZoneInfo, now: datetime) -> Period:
    """A period as people type it; ``Refused`` (safe to show) naming the forms it accepts otherwise."""
    value = text.strip()
    if value.lower().startswith("since"):
        try:
            return since(date.fromisoformat(value[5:].strip()), now, zone)
        except ValueError:
            raise Refused(f"I cannot read '{value}' as {USAGE}.") from None
    for pattern, make in PATTERNS:
        match = pattern.match(value)
        if match:
            try:
                return make(match, zone)
            except ValueError:
                break
    raise Refused(f"I cannot read '{value}' as {USAGE}.")


def previous_month_due(moment: datetime, zone: ZoneInfo, day: int, at: time) -> Period | None:
    """The month before ``moment``'s, for a monthly post about it due on ``day`` at ``at`` (local time);
    None while this month's post is not due yet."""
    this_month = month_of(moment, zone)
    send_at = this_month.start.astimezone(zone).replace(day=day, hour=at.hour, minute=at.minute)
    if moment < send_at:
        return None
    return month_of(this_month.start - timedelta(days=1), zone)

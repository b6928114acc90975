"""No reminders at night or at the weekend in the recipient's timezone: they wait for the next
working morning (the end of the quiet time on the next working day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from config.activity_settings import WEEKDAYS, QuietHours


def is_quiet(local: datetime, quiet: QuietHours) -> bool:
    if not quiet.enabled:
        return False
    if WEEKDAYS[local.weekday()] in quiet.weekend:
        return True
    moment = local.time()
    if quiet.start > quiet.end:  # spans midnight, e.g. 19:00 to 08:00
        return moment >= quiet.start or moment < quiet.end
    return quiet.start <= moment < quiet.end


def next_allowed(moment: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """``moment`` itself if nobody minds a message then, else the next working morning (UTC)."""
    local = moment.astimezone(zone)
    for _ in range(8):  # a week at most: the weekend can never be every day (validated)
        if not is_quiet(local, quiet):
            return local.astimezone(UTC)
        day = local.date()
        if WEEKDAYS[local.weekday()] in quiet.weekend or local.time() >= quiet.end:
            day += timedelta(days=1)  # the evening part of the night, or a weekend day: tomorrow
        local = datetime.combine(day, quiet.end, tzinfo=zone)
    raise AssertionError("quiet hours leave no time in a week")

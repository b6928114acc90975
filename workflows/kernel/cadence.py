"""Cadences as due dates: "quarterly" or a cron expression becomes a sequence of moments in the
organisation's timezone, computed with APScheduler's cron trigger (so DST and month ends are its job,
not ours), and each due date names the period it closes ("2026-Q4"), which keys the request.

Named cadences fall due at the end of their period: the last day of the year, quarter or month, or
the Friday of the week, at the organisation's ``due_time``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_NAMED_FIELDS: dict[str, dict[str, str]] = {
    "yearly": {"month": "12", "day": "last"},
    "quarterly": {"month": "3,6,9,12", "day": "last"},
    "monthly": {"day": "last"},
    "weekly": {"day_of_week": "fri"},
}


@dataclass(frozen=True)
class Period:
    """What one due date closes: its label (part of the request's unique key) and the dates it covers."""

    label: str
    start: date
    end: date


@dataclass(frozen=True)
class Cadence:
    expression: str
    zone: ZoneInfo
    trigger: CronTrigger

    def next_due_after(self, moment: datetime) -> datetime:
        """The first due date strictly after ``moment``, in UTC."""
        following: datetime | None = self.trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
        assert following is not None, "cron triggers without an end date always fire again"
        return following.astimezone(UTC)

    def period(self, due: datetime) -> Period:
        local = due.astimezone(self.zone)
        day = local.date()
        if self.expression == "yearly":
            return Period(f"{day.year}", date(day.year, 1, 1), day)
        if self.expression == "quarterly":
            quarter = (day.month - 1) // 3 + 1
            return Period(f"{day.year}-Q{quarter}", date(day.year, 3 * quarter - 2, 1), day)
        if self.expression == "monthly":
            return Period(f"{day.year}-{day.month:02d}", day.replace(day=1), day)
        if self.expression == "weekly":
            iso = day.isocalendar()
            return Period(f"{iso.year}-W{iso.week:02d}", day - timedelta(days=day.weekday()), day)
        return Period(local.strftime("%Y-%m-%dT%H:%M"), self._previous_due(due).astimezone(self.zone).date(), day)

    def _previous_due(self, due: datetime) -> datetime:
        """The due date before ``due`` (a cron trigger only counts forward: step from a bit before)."""
        spacing = self.next_due_after(due) - due
        moment, previous = due - 2 * spacing, None
        while (candidate := self.next_due_after(moment)) < due:
            previous = moment = candidate
        return previous or due - spacing


def make_cadence(expression: str, zone: ZoneInfo, due_time: time) -> Cadence:
    """A named cadence (due at ``due_time``) or a 5-field cron expression, in ``zone``."""
    if expression in _NAMED_FIELDS:
        trigger = CronTrigger(hour=due_time.hour, minute=due_time.minute, timezone=zone, **_NAMED_FIELDS[expression])
    else:
        trigger = CronTrigger.from_crontab(expression, timezone=zone)
    return Cadence(expression, zone, trigger)

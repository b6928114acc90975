"""The organisation's programme of recurring activities and how the bot chases them (``activities:``).

The catalogue says which activities a process has; this section says which of them this organisation
runs, who answers, how often, how early they are asked, and how reminders, escalation and quiet
hours work. It is validated with the catalogue at start-up (``check_activities``), so a typo in an
activity id or an owner stops the bot with the file and the key named instead of leaving an activity
that nobody is ever asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.catalogue import CADENCE_WORDS, Catalogue, EvidenceKind
from config.errors import ConfigError

if TYPE_CHECKING:
    from config.organisation import Organisation

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]
Rung = Literal["owner", "manager", "isms_manager"]

NAMED_CADENCES = ("yearly", "quarterly", "monthly", "weekly")
DEFAULT_LEAD_DAYS = {"yearly": 30, "quarterly": 14, "monthly": 7, "weekly": 2}
"""How many days before the due date a request is asked when the programme does not say."""
CRON_DEFAULT_LEAD_DAYS = 1
OWNER_ROLES = ("owner", "process_owner")
"""Catalogue roles that mean "whoever owns this process" (``process_owners`` in the organisation file)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _quoted_time(value: object) -> object:
    """YAML reads an unquoted 17:00 as the number 1020, which would silently become 00:17."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('write times as "HH:MM" in quotes, e.g. "17:00"')
    return value


class QuietHours(_Strict):
    """When nobody is reminded, in the recipient's own timezone: nights and the weekend.

    A reminder that falls into quiet time goes out at ``end`` on the next working day.
    ``start`` after ``end`` (19:00 to 08:00) means the quiet time spans midnight.
    """

    enabled: bool = True
    start: time = time(19, 0)
    end: time = time(8, 0)
    weekend: tuple[Weekday, ...] = ("sat", "sun")

    _times = field_validator("start", "end", mode="before")(_quoted_time)

    @model_validator(mode="after")
    def _sane(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ (set enabled: false to turn quiet hours off)")
        if len(set(self.weekend)) == 7:
            raise ValueError("weekend cannot be every day: reminders would never go out")
        return self


class EscalationRung(_Strict):
    """Who hears about an overdue request, and how many days after the due date."""

    after_days: int = Field(ge=0, le=365)
    to: Rung


class ProgrammeEntry(_Strict):
    """One recurring activity of this organisation.

    ``activity`` is ``PROCESS/activity-id``. When the catalogue has that activity, everything else is
    optional and overrides the catalogue; an activity of the organisation's own needs ``name``,
    ``evidence`` and ``cadence``. ``owner`` is a person id or a role; a role means the process owner
    when they have it, else the first person listed with it.
    """

    activity: str = Field(pattern=r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)*/[a-z0-9]+(-[a-z0-9]+)*$")
    name: str | None = Field(None, min_length=1, max_length=200)
    evidence: EvidenceKind | None = None
    cadence: str | None = None
    owner: str | None = Field(None, min_length=1, max_length=64)
    lead_days: int | None = Field(None, ge=0, le=364)
    clause: str | None = Field(None, min_length=1, max_length=64)

    @property
    def process(self) -> str:
        return self.activity.split("/", 1)[0]

    @property
    def activity_id(self) -> str:
        return self.activity.split("/", 1)[1]

    @field_validator("cadence")
    @classmethod
    def _known_cadence(cls, value: str | None) -> str | None:
        if value is None or value in NAMED_CADENCES:
            return value
        if value == "on-event":
            raise ValueError("on-event activities are started by other workflows, not by the programme")
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(
                f"cadence must be one of {', '.join(NAMED_CADENCES)} or a 5-field cron expression ({error})"
            ) from None
        return value


class ActivitySettings(_Strict):
    """The ``activities:`` section of the organisation file."""

    start: date | None = Field(
        None,
        description="Go-live of the programme: nobody is asked before this day "
        "(organisation timezone). Empty: from the first tick.",
    )
    due_time: time = Field(time(17, 0), description="Time of day (organisation timezone) named cadences are due.")
    send_at: time = Field(time(9, 0), description="Time of day reminders go out, in the recipient's timezone.")
    remind_before_days: tuple[int, ...] = Field(
        (7, 1, 0), description="Reminders this many days before the due date; 0 is the morning of the due date."
    )
    escalation: tuple[EscalationRung, ...] = (
        EscalationRung(after_days=1, to="owner"),
        EscalationRung(after_days=3, to="manager"),
        EscalationRung(after_days=7, to="isms_manager"),
    )
    review_after_days: int = Field(
        7,
        ge=0,
        le=365,
        description="Days after the last rung when a request still "
        "open is listed for the next management review instead of nagging on.",
    )
    rejection_due_days: int = Field(7, ge=1, le=365, description="Default new due date after a rejection.")
    snooze_days: tuple[int, ...] = (1, 3, 7)
    max_file_mb: float = Field(25.0, gt=0, le=1000)
    quiet_hours: QuietHours = QuietHours()
    programme: tuple[ProgrammeEntry, ...] = ()

    _times = field_validator("due_time", "send_at", mode="before")(_quoted_time)

    @field_validator("remind_before_days")
    @classmethod
    def _reminders(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(days < 0 or days > 365 for days in value):
            raise ValueError("reminder offsets are days before the due date, 0 to 365")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, value: tuple[EscalationRung, ...]) -> tuple[EscalationRung, ...]:
        days = [rung.after_days for rung in value]
        if days != sorted(days):
            raise ValueError("escalation rungs must be in order of after_days")
        return value

    @field_validator("snooze_days")
    @classmethod
    def _snooze(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or len(value) > 5 or any(days < 1 or days > 30 for days in value):
            raise ValueError("one to five snooze choices, each 1 to 30 days")
        return tuple(sorted(set(value)))

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def lead_days(entry: ProgrammeEntry, cadence: str) -> int:
    """The entry's own lead time, else the cadence's default."""
    if entry.lead_days is not None:
        return entry.lead_days
    return DEFAULT_LEAD_DAYS.get(cadence, CRON_DEFAULT_LEAD_DAYS)


def cron_spacing(expression: str) -> timedelta:
    """The shortest gap between due dates of a cron cadence, sampled over a year of fire times."""
    trigger = CronTrigger.from_crontab(expression, timezone="UTC")
    moment = trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=trigger.timezone))
    shortest = timedelta(days=366)
    for _ in range(24):
        following = trigger.get_next_fire_time(moment, moment)
        if following is None:
            break
        shortest = min(shortest, following - moment)
        moment = following
    return shortest


NAMED_SPACING = {
    "yearly": timedelta(days=365),
    "quarterly": timedelta(days=89),
    "monthly": timedelta(days=28),
    "weekly": timedelta(days=7),
}


def check_activities(source: str | Path, org: Organisation, catalogue: Catalogue) -> None:
    """Cross-check the programme with the catalogue and the people; raise ConfigError naming each key.

    Checked: the activity exists (or is fully described), the cadence is recurring, the lead time is
    shorter than the time between due dates (else two periods would be open at once), and somebody
    can be asked.
    """
    settings, process_owners = org.activities, org.process_owners
    people = {person.id: tuple(person.roles) for person in org.people}
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, entry in enumerate(settings.programme):
        key = f"activities.programme.{index}"
        if entry.activity in seen:
            problems.append((f"{key}.activity", f"{entry.activity} is listed twice"))
        seen.add(entry.activity)
        if entry.process not in catalogue.ids:
            problems.append((f"{key}.activity", f"unknown process {entry.process!r}"))
            continue
        known = next((a for a in catalogue.get(entry.process).activities if a.id == entry.activity_id), None)
        if known is None:
            missing = [name for name in ("name", "evidence", "cadence") if getattr(entry, name) is None]
            if missing:
                problems.append(
                    (
                        f"{key}.activity",
                        f"{entry.activity_id!r} is not in the catalogue, so it needs {', '.join(missing)}",
                    )
                )
                continue
        cadence = entry.cadence or (known.cadence if known else "")
        if cadence not in NAMED_CADENCES and cadence in CADENCE_WORDS:
            problems.append(
                (f"{key}.cadence", f"{entry.activity} is {cadence} in the catalogue: give a recurring cadence here")
            )
            continue
        spacing = NAMED_SPACING.get(cadence) or cron_spacing(cadence)
        lead = lead_days(entry, cadence)
        if timedelta(days=lead) >= spacing:
            problems.append(
                (
                    f"{key}.lead_days",
                    f"a lead time of {_days(lead)} is not shorter than the {_readable(spacing)} between due dates",
                )
            )
        role = entry.owner or (known.owner_role if known else None)
        if role is None:
            problems.append((f"{key}.owner", "needs an owner (person id or role)"))
        elif resolve_owner(role, entry.process, people, process_owners) is None:
            problems.append(
                (
                    f"{key}.owner",
                    f"nobody to ask: {role!r} is neither a person id nor a role "
                    "somebody has (or the process has no owner)",
                )
            )
    if problems:
        raise ConfigError(source, problems)


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _readable(spacing: timedelta) -> str:
    if spacing >= timedelta(days=1):
        return _days(spacing.days)
    return f"{int(spacing.total_seconds() // 60)} minutes"


def resolve_owner(
    owner: str, process: str, people: Mapping[str, tuple[str, ...]], process_owners: Mapping[str, str]
) -> str | None:
    """Person id for an owner given as a person id or a role (see ``ProgrammeEntry``)."""
    if owner in people:
        return owner
    process_owner = process_owners.get(process)
    if owner in OWNER_ROLES:
        return process_owner
    if process_owner is not None and owner in people.get(process_owner, ()):
        return process_owner
    return next((person for person, roles in people.items() if owner in roles), None)

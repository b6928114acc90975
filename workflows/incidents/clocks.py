"""Regulatory clocks and reminder timers of incidents, as a plan: which clocks to stop, which to start
and when each falls due, and which reminders should exist. Pure computation from the incident, its
clocks and the organisation's settings; the steps in ``flows`` apply the plan, record it and tell
people, and ``scheduled`` sends the timers whose time has come.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config.incident_settings import IncidentSettings
from storage.models.incidents import Incident, IncidentClock
from workflows.incidents.lifecycle import IncidentStatus, status_of

GDPR_WINDOW = timedelta(hours=72)
NIS2_EARLY_WARNING = timedelta(hours=24)
NIS2_NOTIFICATION = timedelta(hours=72)
PERSONAL_DATA_AT_RISK = ("yes", "not_sure")
NOTIFICATION = "nis2-notification"
FINAL_REPORT = "nis2-final-report"
CLOCK_LABELS = {
    "gdpr": "GDPR notification to the supervisory authority",
    "nis2-early-warning": "NIS2 early warning",
    NOTIFICATION: "NIS2 incident notification",
    FINAL_REPORT: "NIS2 final report",
}
OVERDUE_TIMERS = ("triage", "resolve")
"""Timers for the team's own targets; every other timer reminds the DPO of a clock (``dpo:<clock>:<when>``)."""


def add_month(moment: datetime) -> datetime:
    """The same day and time one calendar month later (the last day when the month is shorter)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def is_running(clock: IncidentClock) -> bool:
    return clock.notified_at is None and clock.stopped_at is None


def running(clocks: Iterable[IncidentClock]) -> list[IncidentClock]:
    return [clock for clock in clocks if is_running(clock)]


def _needed(settings: IncidentSettings, incident: Incident) -> dict[str, timedelta | None]:
    """Which regulatory clocks this incident needs; ``None`` marks the NIS2 final report, which
    counts from the notification rather than from the start."""
    if status_of(incident) not in (IncidentStatus.INCIDENT, IncidentStatus.CLOSED):
        return {}
    rules = settings.regulatory
    needed: dict[str, timedelta | None] = {}
    if rules.gdpr and incident.personal_data in PERSONAL_DATA_AT_RISK:
        needed["gdpr"] = GDPR_WINDOW
    if rules.nis2 and incident.severity in rules.nis2_severities:
        needed.update({"nis2-early-warning": NIS2_EARLY_WARNING, NOTIFICATION: NIS2_NOTIFICATION, FINAL_REPORT: None})
    return needed


@dataclass(frozen=True)
class ClockPlan:
    """What an incident's clocks need after a change."""

    stop: tuple[str, ...] = ()
    """Running clocks that stop now: the report is not an incident after all, or (GDPR) the security
    team corrected "personal data may be affected" to no."""
    start: dict[str, datetime] = field(default_factory=dict)
    """Clocks that start (or start again, after a reclassification) now, with their due time."""
    since: dict[str, datetime] = field(default_factory=dict)
    """When a starting clock counts from, where that is not now: the GDPR clock counts from when the
    organisation became aware of the breach (the recorded classification as an incident)."""
    final_report_due: datetime | None = None
    """The new due time of an existing NIS2 final report not yet made: a month after the notification."""


def plan_clocks(
    settings: IncidentSettings, incident: Incident, clocks: Mapping[str, IncidentClock], now: datetime
) -> ClockPlan:
    """The plan for ``clocks`` (the incident's clocks by kind) after a change at ``now``."""
    needed = _needed(settings, incident)
    stop: tuple[str, ...] = ()
    if status_of(incident) == IncidentStatus.NOT_INCIDENT:
        stop = tuple(kind for kind, clock in clocks.items() if is_running(clock))
    elif "gdpr" in clocks and "gdpr" not in needed and is_running(clocks["gdpr"]):
        stop = ("gdpr",)
    start: dict[str, datetime] = {}
    since: dict[str, datetime] = {}
    for kind, window in needed.items():
        clock = clocks.get(kind)
        if clock is None or clock.stopped_at is not None:
            begin = now
            if kind == "gdpr" and incident.classified_at is not None and incident.classified_at < now:
                begin = since[kind] = incident.classified_at
            start[kind] = begin + window if window is not None else _final_report_due(clocks, start)
    final = clocks.get(FINAL_REPORT)
    moved = final is not None and final.notified_at is None and FINAL_REPORT not in start
    return ClockPlan(stop, start, since=since, final_report_due=_final_report_due(clocks, start) if moved else None)


def _final_report_due(clocks: Mapping[str, IncidentClock], start: Mapping[str, datetime]) -> datetime:
    """One month after the NIS2 notification was made, or after it is due while it is not."""
    notification = clocks.get(NOTIFICATION)
    if notification is None or NOTIFICATION in start:
        return add_month(start[NOTIFICATION])
    return add_month(notification.notified_at or notification.due_at)


def wanted_timers(
    settings: IncidentSettings, incident: Incident, clocks: Iterable[IncidentClock]
) -> dict[str, datetime]:
    """Every reminder the incident should have, by timer kind: the team's time to triage and to
    resolve, and the DPO's reminders before (and at) each running clock's deadline."""
    status = status_of(incident)
    level = settings.severities.get(incident.severity or settings.untriaged_severity)
    wanted: dict[str, datetime] = {}
    if status == IncidentStatus.NEW or (status == IncidentStatus.INCIDENT and incident.severity is None):
        wanted["triage"] = incident.reported_at + level.triage_within
    if status == IncidentStatus.INCIDENT and incident.classified_at is not None:
        wanted["resolve"] = incident.classified_at + level.resolve_within
    for clock in running(clocks):
        for offset in settings.regulatory.remind_dpo_before:
            if clock.due_at - offset > clock.started_at:
                wanted[f"dpo:{clock.kind}:{int(offset.total_seconds() // 60)}"] = clock.due_at - offset
        wanted[f"dpo:{clock.kind}:due"] = clock.due_at
    return wanted

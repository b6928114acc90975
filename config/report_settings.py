"""The organisation file's ``metrics`` and ``reports`` sections: thresholds on the metrics the bot
computes (PERF), and when the weekly digest and the monthly report go out (COM).

Metric ids are data shared with ``workflows/performance/metrics.py``, which computes each of them
(a test checks that the two lists agree):

- ``inc.triage.median.P1`` … ``inc.triage.p90.P4``: hours from report to triage decision
- ``inc.resolve.median.P1`` … ``inc.resolve.p90.P4``: hours from report to closure
- ``evidence.on_time_rate`` and ``evidence.on_time_rate.<PROCESS>``: percent answered by the due date
- ``chg.lead_time.median``, ``chg.lead_time.p90``: days from request to verified
- ``aud.open_nc.count``, ``aud.open_nc.oldest``, ``aud.open_nc.median_age``: open audit nonconformities
  and their age in days
- ``awr.completion.rate``, ``awr.completion.campaigns``: percent of assignments done, and the number of
  campaigns, over the campaigns due in the period
- ``manual.<activity>``: the number an owner handed in for a programme activity (``PERF/submit-measurement``)
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEVERITIES = ("P1", "P2", "P3", "P4")
FIXED_METRICS: tuple[str, ...] = (
    *(f"inc.{what}.{stat}.{s}" for what in ("triage", "resolve") for stat in ("median", "p90") for s in SEVERITIES),
    "evidence.on_time_rate",
    "chg.lead_time.median",
    "chg.lead_time.p90",
    "aud.open_nc.count",
    "aud.open_nc.oldest",
    "aud.open_nc.median_age",
    "awr.completion.rate",
    "awr.completion.campaigns",
)
PER_PROCESS = re.compile(r"^evidence\.on_time_rate\.([A-Z][A-Z0-9]{1,15})$")
MANUAL = re.compile(r"^manual\.([A-Za-z0-9][A-Za-z0-9/_.-]{0,119})$")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
    """Crossing it tells the process owner and records an improvement suggestion, once per month."""

    max: float | None = Field(None, description="Worse when above (times, durations).")
    min: float | None = Field(None, description="Worse when below (rates).")

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if (self.max is None) == (self.min is None):
            raise ValueError("give exactly one of max or min")
        return self

    def crossed(self, value: float) -> bool:
        return (self.max is not None and value > self.max) or (self.min is not None and value < self.min)

    def __str__(self) -> str:
        return f"≤ {self.max:g}" if self.max is not None else f"≥ {self.min:g}"


class MetricSettings(_Strict):
    """``metrics:``: thresholds by metric id."""

    thresholds: dict[str, Threshold] = Field(default_factory=dict)

    def problems(self, process_ids: set[str]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for metric in self.thresholds:
            key = f"metrics.thresholds.{metric}"
            per_process = PER_PROCESS.match(metric)
            if per_process and per_process[1] not in process_ids:
                found.append((key, f"unknown process {per_process[1]!r}"))
            elif metric not in FIXED_METRICS and not per_process and not MANUAL.match(metric):
                found.append((key, "unknown metric (see the README's list of metrics)"))
        return found


def _quoted_time(value: object) -> object:
    if isinstance(value, int):
        raise ValueError('write the time in quotes, e.g. "09:00" (YAML reads 09:00 unquoted as a number)')
    return value


class Schedule(_Strict):
    """When a periodic report goes out, in the organisation's timezone (off unless switched on)."""

    enabled: bool = False
    at: time = time(9, 0)

    _time = field_validator("at", mode="before")(_quoted_time)


class WeeklyDigest(Schedule):
    weekday: Weekday = "mon"


class MonthlyReport(Schedule):
    day: int = Field(1, ge=1, le=28, description="Day of the month the report on the month before goes out.")


class ReportSettings(_Strict):
    """``reports:``: the weekly digest and the monthly ISMS report to the ``isms_reports`` channel."""

    weekly_digest: WeeklyDigest = WeeklyDigest()
    monthly_report: MonthlyReport = MonthlyReport()
    change_late_days: int = Field(30, ge=1, le=3650, description="An open change older than this is late.")

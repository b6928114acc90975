"""The metrics the bot computes itself (PERF, 27001 9.1), each with its formula, from the process
packages' own aggregate queries (``service.py`` of incidents, changes, evidence). The formulas are
repeated in the README's "Metrics" section.

Durations use the nearest-rank percentile (storage/aggregates.py): the p-th percentile of n values
is the ceil(p * n)-th smallest; the median is p = 1/2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from config.organisation import Organisation
from config.report_settings import SEVERITIES, Threshold
from storage.aggregates import Spread
from workflows.audits import service as audits
from workflows.awareness import service as awareness
from workflows.changes import service as changes
from workflows.evidence import service as evidence
from workflows.incidents import service as incidents
from workflows.performance.periods import Period

HOUR, DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class Definition:
    id: str
    name: str
    process: str
    unit: str
    formula: str


def _definitions() -> dict[str, Definition]:
    found: dict[str, Definition] = {}
    for severity in SEVERITIES:
        for stat, label in (("median", "median"), ("p90", "90th percentile")):
            found[f"inc.triage.{stat}.{severity}"] = Definition(
                f"inc.triage.{stat}.{severity}",
                f"Time to triage {severity}, {label}",
                "INC",
                "h",
                f"{label} (nearest rank) of classified_at − reported_at over reports made in the period "
                f"and triaged, severity {severity}",
            )
            found[f"inc.resolve.{stat}.{severity}"] = Definition(
                f"inc.resolve.{stat}.{severity}",
                f"Time to resolve {severity}, {label}",
                "INC",
                "h",
                f"{label} (nearest rank) of closed_at − reported_at over incidents closed in the period, "
                f"severity {severity}",
            )
    found["evidence.on_time_rate"] = Definition(
        "evidence.on_time_rate",
        "Evidence on time",
        "PERF",
        "%",
        "100 × requests due in the period with a submission at or before due_at ÷ requests due in the "
        "period that are answered or past due (not those withdrawn unanswered)",
    )
    for stat, label in (("median", "median"), ("p90", "90th percentile")):
        found[f"chg.lead_time.{stat}"] = Definition(
            f"chg.lead_time.{stat}",
            f"Change lead time, {label}",
            "CHG",
            "d",
            f"{label} (nearest rank) of closed_at − created_at over changes verified in the period",
        )
    found["aud.open_nc.count"] = Definition(
        "aud.open_nc.count",
        "Open nonconformities",
        "AUD",
        "",
        "audit findings of kind major or minor nonconformity open now (a snapshot, not per period; no data "
        "until the first nonconformity is raised)",
    )
    for stat, label, formula in (
        ("oldest", "oldest", "now − the earliest raised_at"),
        ("median_age", "median age", "median (nearest rank) of now − raised_at"),
    ):
        found[f"aud.open_nc.{stat}"] = Definition(
            f"aud.open_nc.{stat}",
            f"Open nonconformities, {label}",
            "AUD",
            "d",
            f"{formula} over the nonconformities open now",
        )
    found["awr.completion.rate"] = Definition(
        "awr.completion.rate",
        "Campaign completion",
        "AWR",
        "%",
        "100 × assignments done (at any time) ÷ assignments, over the campaigns due in the period",
    )
    found["awr.completion.campaigns"] = Definition(
        "awr.completion.campaigns",
        "Campaigns due",
        "AWR",
        "",
        "campaigns due in the period (no data when none)",
    )
    return found


DEFINITIONS = _definitions()


@dataclass(frozen=True)
class Measurement:
    definition: Definition
    value: float | None
    """None when the period has nothing to measure (no incidents of that severity, no answers)."""
    count: int
    threshold: Threshold | None

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def crossed(self) -> bool:
        return self.value is not None and self.threshold is not None and self.threshold.crossed(self.value)

    @property
    def shown(self) -> str:
        if self.value is None:
            return "no data"
        unit = self.definition.unit
        if unit == "%":
            return f"{self.value:.0f} %"
        if not unit and float(self.value).is_integer():
            return f"{self.value:,.0f}"  # a count: "2", not "2.0"
        return f"{self.value:.1f} {unit}".rstrip()


@dataclass(frozen=True)
class Measurements:
    period: Period
    items: tuple[Measurement, ...]
    on_time_by_process: dict[str, tuple[int, int]]
    """Per process: (counted, on time) for the per-process rates and the 17-row chart."""
    on_time_by_owner: dict[tuple[str, str], tuple[int, int]]
    resolve_spreads: dict[str | None, Spread]
    triage_spreads: dict[str | None, Spread]
    lead_time: Spread | None

    def get(self, metric_id: str) -> Measurement | None:
        return next((m for m in self.items if m.id == metric_id), None)

    @property
    def crossed(self) -> list[Measurement]:
        return [m for m in self.items if m.crossed]


def _rate(counted: int, on_time: int) -> float | None:
    return 100.0 * on_time / counted if counted else None


def measure(session: Session, org: Organisation, period: Period, now: datetime) -> Measurements:
    """Every metric for ``period`` (its end capped at ``now``): about eight aggregate queries."""
    until = min(period.end, now)
    thresholds = org.metrics.thresholds
    triage = incidents.triage_times(session, period.start, until)
    resolve = incidents.resolve_times(session, period.start, until)
    lead = changes.lead_times(session, period.start, until)
    by_owner = evidence.on_time_by_owner(session, now, period.start, until)
    by_process: dict[str, tuple[int, int]] = {}
    for (process, _owner), (counted, on_time) in by_owner.items():
        before = by_process.get(process, (0, 0))
        by_process[process] = (before[0] + counted, before[1] + on_time)
    items: list[Measurement] = []

    def add(metric_id: str, value: float | None, count: int, definition: Definition | None = None) -> None:
        items.append(Measurement(definition or DEFINITIONS[metric_id], value, count, thresholds.get(metric_id)))

    for severity in SEVERITIES:
        for kind, spreads in (("triage", triage), ("resolve", resolve)):
            spread = spreads.get(severity)
            for stat in ("median", "p90"):
                value = getattr(spread, stat) / HOUR if spread else None
                add(f"inc.{kind}.{stat}.{severity}", value, spread.count if spread else 0)
    counted = sum(c for c, _ in by_process.values())
    add("evidence.on_time_rate", _rate(counted, sum(t for _, t in by_process.values())), counted)
    for process, (c, t) in sorted(by_process.items()):
        metric_id = f"evidence.on_time_rate.{process}"
        if metric_id in thresholds:
            definition = Definition(metric_id, f"Evidence on time, {process}", process, "%", "as above, one process")
            add(metric_id, _rate(c, t), c, definition)
    for stat in ("median", "p90"):
        add(f"chg.lead_time.{stat}", getattr(lead, stat) / DAY if lead else None, lead.count if lead else 0)
    ages = audits.open_nonconformity_ages(session, now)
    add("aud.open_nc.count", float(ages.count) if ages.raised else None, ages.count)
    add("aud.open_nc.oldest", ages.oldest / DAY if ages.oldest is not None else None, ages.count)
    add("aud.open_nc.median_age", ages.median / DAY if ages.median is not None else None, ages.count)
    campaigns, done, assigned = awareness.completion_due(session, period.start, until)
    add("awr.completion.rate", _rate(assigned, done), assigned)
    add("awr.completion.campaigns", float(campaigns) if campaigns else None, campaigns)
    latest: dict[str, tuple[str, str, float]] = {}
    for key, process, title, number, _decided in evidence.manual_measurements(session, period.start, until):
        latest[key] = (process, title, number)
    for key, (process, title, number) in sorted(latest.items()):
        metric_id = f"manual.{key}"
        add(metric_id, number, 1, Definition(metric_id, title, process, "", "the number handed in and accepted"))
    return Measurements(period, tuple(items), by_process, by_owner, resolve, triage, lead)


def worth_showing(measurements: Measurements) -> Sequence[Measurement]:
    """What a status answer lists: every metric with data or a threshold."""
    return [m for m in measurements.items if m.value is not None or m.threshold is not None]

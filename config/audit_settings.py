"""The organisation file's ``audits`` section: the internal audit programme (AUD) and its reminders.

An audit names the processes (and controls) in scope, its criteria, its auditors and three dates:
kick-off, evidence due and report due. The auditees are not listed: they are the owners of the
processes in scope (``process_owners``). The same rules apply to an audit from the file and to one
planned in chat (``plan_problems``), so an auditor who owns a process in scope is refused in both:
from the file at start-up, naming the key; in chat on the form's field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.activity_settings import _quoted_time
from config.errors import ConfigError

if TYPE_CHECKING:
    from config.organisation import Organisation

MAX_REMINDER_DAYS = 60
MAX_AUDITORS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannedAudit(_Strict):
    """One audit of the programme in the file; ``key`` keeps it from being planned twice."""

    key: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
    title: str = Field(min_length=1, max_length=200)
    processes: tuple[str, ...] = Field(min_length=1)
    controls: tuple[str, ...] = ()
    criteria: str = Field(min_length=1, max_length=2000)
    auditors: tuple[str, ...] = ()
    kickoff: date
    evidence_due: date
    report_due: date


class AuditSettings(_Strict):
    """``audits:``: when auditors and auditees are reminded, and the planned audits."""

    remind_before_days: tuple[int, ...] = Field(
        (7, 1),
        description="Days before kick-off, evidence due and report due that people are reminded (0 = that morning).",
    )
    programme: tuple[PlannedAudit, ...] = ()
    kickoff_at: time = Field(
        time(10, 0),
        description="With Microsoft 365: when the kick-off meeting starts on the kick-off day (organisation time).",
    )
    kickoff_minutes: int = Field(60, ge=15, le=480, description="With Microsoft 365: the kick-off meeting's length.")

    _time = field_validator("kickoff_at", mode="before")(_quoted_time)

    @field_validator("remind_before_days")
    @classmethod
    def _sane_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day < 0 or day > MAX_REMINDER_DAYS for day in value):
            raise ValueError(f"days must be between 0 and {MAX_REMINDER_DAYS}")
        return tuple(sorted(set(value), reverse=True))


def plan_problems(
    *,
    processes: Collection[str],
    auditors: Collection[str],
    kickoff: date | None,
    evidence_due: date | None,
    report_due: date | None,
    known_processes: Collection[str],
    people: Collection[str],
    process_owners: Mapping[str, str],
    today: date | None = None,
) -> dict[str, str]:
    """What is wrong with an audit plan, by field (``processes``, ``auditors``, ``kickoff``,
    ``evidence_due``, ``report_due``); ``today`` is given for a plan made now (no past dates)."""
    problems: dict[str, str] = {}
    unknown = [p for p in processes if p not in known_processes]
    if not processes:
        problems["processes"] = "Name at least one process in scope (e.g. INC, CHG)."
    elif unknown:
        problems["processes"] = f"Unknown process {', '.join(unknown)}: use process ids such as INC or CHG."
    strangers = [a for a in auditors if a not in people]
    if not auditors:
        problems["auditors"] = "An audit needs at least one auditor."
    elif len(auditors) > MAX_AUDITORS:
        problems["auditors"] = f"At most {MAX_AUDITORS} auditors, please."
    elif strangers:
        problems["auditors"] = f"{', '.join(strangers)} is not in the organisation file."
    else:
        own = [(a, p) for a in auditors for p in processes if process_owners.get(p) == a]
        if own:
            auditor, process = own[0]
            problems["auditors"] = (
                f"{auditor} owns {process}, which is in scope: auditors must be independent of what they audit. "
                f"Choose another auditor or take {process} out of scope."
            )
    dates = (("kickoff", kickoff), ("evidence_due", evidence_due), ("report_due", report_due))
    for name, day in dates:
        if day is None:
            problems[name] = "Please give a date (YYYY-MM-DD)."
        elif today is not None and day < today:
            problems[name] = f"{day.isoformat()} is in the past; give today or a later date."
    if kickoff and evidence_due and "evidence_due" not in problems and evidence_due < kickoff:
        problems["evidence_due"] = "Evidence can only be due on or after the kick-off."
    if evidence_due and report_due and "report_due" not in problems and report_due < evidence_due:
        problems["report_due"] = "The report can only be due on or after the evidence."
    return problems


def check_audits(source: str | Path, org: Organisation, known_processes: Collection[str]) -> None:
    """Check the file's audit programme at start-up; raise ConfigError naming each key."""
    people = {person.id for person in org.people}
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, audit in enumerate(org.audits.programme):
        key = f"audits.programme.{index}"
        if audit.key in seen:
            problems.append((f"{key}.key", f"{audit.key} is listed twice"))
        seen.add(audit.key)
        found = plan_problems(
            processes=audit.processes,
            auditors=audit.auditors,
            kickoff=audit.kickoff,
            evidence_due=audit.evidence_due,
            report_due=audit.report_due,
            known_processes=known_processes,
            people=people,
            process_owners=org.process_owners,
        )
        problems += [(f"{key}.{field}", problem) for field, problem in found.items()]
    if problems:
        raise ConfigError(source, problems)

"""The ``incidents:`` section of the organisation file (process INC).

Severity criteria, timers and regulatory clocks are the organisation's policy, not code: an
organisation under NIS2 switches it on here, one with a 30-minute P1 triage target writes it here.
Every key has a default, so an organisation file without this section gets a sane incident process.
Durations are written the way people say them: ``15m``, ``4h``, ``3d``, ``2w``, ``1y``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

SeverityId = Literal["P1", "P2", "P3", "P4"]
SEVERITY_IDS: tuple[SeverityId, ...] = ("P1", "P2", "P3", "P4")

_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "y": timedelta(days=365),
}
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdwy])\s*$")


def parse_duration(value: object) -> object:
    """``"4h"`` -> 4 hours. Anything else is handed on for pydantic to accept or name as wrong."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration; write a number and a unit: 15m, 4h, 3d, 2w or 1y")
        return int(match.group(1)) * _UNITS[match.group(2)]
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityLevel(_Section):
    """One severity: what qualifies, and how fast it must be triaged and resolved."""

    name: str = Field(min_length=1, max_length=40)
    criteria: str = Field(min_length=1, max_length=500)
    triage_within: Duration
    resolve_within: Duration

    @model_validator(mode="after")
    def _resolve_after_triage(self) -> SeverityLevel:
        if self.resolve_within < self.triage_within:
            raise ValueError("resolve_within must not be shorter than triage_within")
        return self


class Severities(_Section):
    """P1 (worst) to P4; an organisation may override any one of them."""

    P1: SeverityLevel = SeverityLevel(
        name="Critical",
        triage_within=timedelta(minutes=15),
        resolve_within=timedelta(days=1),
        criteria="Business stopped or confirmed breach of sensitive or personal data; active attacker.",
    )
    P2: SeverityLevel = SeverityLevel(
        name="High",
        triage_within=timedelta(hours=1),
        resolve_within=timedelta(days=3),
        criteria="Important service degraded, or a compromise contained to one system or account.",
    )
    P3: SeverityLevel = SeverityLevel(
        name="Medium",
        triage_within=timedelta(hours=4),
        resolve_within=timedelta(days=10),
        criteria="Limited effect, a workaround exists; e.g. a clicked phishing link without data loss.",
    )
    P4: SeverityLevel = SeverityLevel(
        name="Low",
        triage_within=timedelta(days=1),
        resolve_within=timedelta(days=30),
        criteria="No noticeable effect; a policy breach or a weakness worth fixing.",
    )

    def get(self, severity: str) -> SeverityLevel:
        level: SeverityLevel = getattr(self, severity)
        return level


class RegulatoryClocks(_Section):
    """Deadlines to notify authorities, counted from the moment a report is classified as an incident."""

    gdpr: bool = Field(True, description="72 hours to notify the supervisory authority of a personal data breach.")
    nis2: bool = Field(False, description="24 h early warning, 72 h notification, final report a month later.")
    nis2_severities: tuple[SeverityId, ...] = Field(
        ("P1", "P2"), description="Severities that make an incident significant under NIS2."
    )
    remind_dpo_before: tuple[Duration, ...] = Field(
        (timedelta(hours=24), timedelta(hours=6), timedelta(hours=1)),
        description="Offsets before each deadline at which the DPO is reminded.",
    )

    @field_validator("remind_dpo_before")
    @classmethod
    def _positive(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if any(offset <= timedelta(0) for offset in value):
            raise ValueError("reminder offsets must be positive durations")
        return tuple(sorted(set(value), reverse=True))


DEFAULT_CATEGORIES = {
    "phishing": "Phishing",
    "malware": "Malware",
    "lost_device": "Lost or stolen device",
    "unauthorised_access": "Unauthorised access",
    "account_compromise": "Account compromise",
    "data_leak": "Data leak or disclosure",
    "physical": "Physical",
    "other": "Other",
}


DEFAULT_ADVICE = {
    "phishing": (
        "Do not click any more links in that mail and do not reply to it. If you entered your password, "
        "change it now and tell the security team which other sites use the same one."
    ),
    "malware": (
        "Disconnect the device from the network (Wi-Fi off, cable out) but leave it switched on, "
        "and do not open further files from the same source."
    ),
    "lost_device": ("If you can, lock or wipe the device remotely, and change the passwords that were stored on it."),
    "unauthorised_access": "Do not change or delete anything on the affected system: it may be evidence.",
    "account_compromise": (
        "Change the password of the account now, sign out of all sessions and check your multi-factor "
        "authentication settings."
    ),
    "data_leak": "Do not forward the data any further; note who received it and when.",
}
"""What a reporter is told to do at once, per category, unless the organisation writes its own."""
MAX_ADVICE = 1000


class IncidentSettings(_Section):
    """How this organisation runs process INC."""

    severities: Severities = Field(default_factory=Severities)
    untriaged_severity: SeverityId = Field(
        "P3", description="Whose time to triage applies while a report has no severity yet."
    )
    emergency_contacts: tuple[str, ...] = Field(
        (), description="Person ids told at once when an incident is P1 (default: security lead and ISMS manager)."
    )
    categories: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    advice: dict[str, str] | None = Field(
        None,
        description="What a reporter should do at once, per category id; default: DEFAULT_ADVICE for the "
        "categories that have one. An empty mapping gives no advice.",
    )
    emergency_plan_url: str | None = Field(
        None, pattern=r"^https://\S+$", max_length=500, description="The emergency plan, linked from the P1 message."
    )
    regulatory: RegulatoryClocks = Field(default_factory=RegulatoryClocks)
    records_kept_for: Duration = Field(
        timedelta(days=3 * 365), description="How long report texts and notes stay readable in the records log."
    )
    room_severities: tuple[SeverityId, ...] = Field(
        ("P1", "P2"), description="Severities whose incidents get their own private channel at once."
    )
    room_archive_after: Duration = Field(
        timedelta(days=7), description="How long after closure an incident's channel is archived."
    )

    @field_validator("categories")
    @classmethod
    def _category_ids(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one category is needed")
        for key, label in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key):
                raise ValueError(f"category id {key!r} must be lower case letters, digits or _ (at most 40)")
            if not label or len(label) > 60:
                raise ValueError(f"category {key!r} needs a label of 1 to 60 characters")
        return value

    @model_validator(mode="after")
    def _advice_for_known_categories(self) -> IncidentSettings:
        for key, text in (self.advice or {}).items():
            if key not in self.categories:
                raise ValueError(
                    f"advice for {key!r}: there is no such category (categories: {', '.join(self.categories)})"
                )
            if not text.strip() or len(text) > MAX_ADVICE:
                raise ValueError(f"advice for {key!r} needs a text of 1 to {MAX_ADVICE} characters")
        return self

    def advice_for(self, category: str | None) -> str:
        """What the reporter of an incident of ``category`` should do at once ("" when nothing)."""
        if not category:
            return ""
        advice = DEFAULT_ADVICE if self.advice is None else self.advice
        return advice.get(category, "").strip()

    def problems(self, person_ids: set[str]) -> list[tuple[str, str]]:
        """Checks that need the rest of the organisation file (called by its cross-check)."""
        return [
            (f"incidents.emergency_contacts.{index}", f"unknown person {person_id!r}")
            for index, person_id in enumerate(self.emergency_contacts)
            if person_id not in person_ids
        ]

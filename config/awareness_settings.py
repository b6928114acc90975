"""The organisation file's ``awareness:`` section: campaigns (AWR), the policy register (POL) and the
monthly digest of lessons from incidents.

Quiet hours, the time of day reminders go out and each person's timezone are those of the
``activities:`` section, so every process chases people by the same rules; this section says only
what is particular to campaigns and policies.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

POLICY_ID = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _quoted_time(value: object) -> object:
    """YAML reads an unquoted 09:00 as the number 540, which would silently become 00:09."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('write times as "HH:MM" in quotes, e.g. "09:00"')
    return value


class LessonsDigest(_Strict):
    """The monthly digest of lessons learned from closed incidents, posted on ``day`` at ``at``
    (organisation timezone) about the month before; off unless switched on, like COM's reports."""

    enabled: bool = False
    channel: str | None = Field(
        None,
        pattern=r"^[CGD][A-Z0-9]{2,}$",
        description="Slack channel id of the digest; the isms_reports channel when not set.",
    )
    day: int = Field(1, ge=1, le=28)
    at: time = time(10, 0)

    _time = field_validator("at", mode="before")(_quoted_time)


class PolicyEntry(_Strict):
    """One policy of the register as the organisation file declares it; a new ``version`` (or a new
    ``sha256`` of its ``file``) goes to the approver the next time the bot starts."""

    id: str = Field(min_length=2, max_length=40, pattern=POLICY_ID)
    title: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")
    link: str = Field(min_length=1, max_length=500, pattern=r"^https?://\S+$")
    file: str | None = Field(None, max_length=500, description="Local path of the document, hashed with SHA-256.")
    next_review: date
    audience: str = Field(
        "everyone",
        max_length=190,
        pattern=r"^(everyone|(role|department|people|group|channel):\S.*)$",
        description="everyone, role:R, department:D, people:a,b, group:<Entra ID group id> or channel:#name",
    )


class AwarenessSettings(_Strict):
    """The ``awareness:`` section; every key is optional."""

    remind_before_days: tuple[int, ...] = Field(
        (7, 1), description="Reminders this many days before a campaign's due date (0: the morning of it)."
    )
    overdue_reminder_days: tuple[int, ...] = Field(
        (1,), description="Reminders to the person this many days after the due date."
    )
    escalate_after_days: int = Field(3, ge=0, le=365, description="Days after the due date the manager is told.")
    repeat_every_days: int = Field(7, ge=0, le=365, description="After that, a reminder this often (0: none).")
    repeat_until_days: int = Field(60, ge=0, le=730, description="No reminders this many days after the due date.")
    departments: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Department name -> person ids; the directory's departments (Microsoft 365) fill in the rest.",
    )
    policies: tuple[PolicyEntry, ...] = ()
    policy_due_days: int = Field(14, ge=1, le=365, description="Days people have to acknowledge a new policy version.")
    review_lead_days: int = Field(
        30, ge=0, le=365, description="Days before its review date a policy's owner is asked."
    )
    lessons_digest: LessonsDigest = Field(default_factory=LessonsDigest)

    @field_validator("remind_before_days", "overdue_reminder_days")
    @classmethod
    def _days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day < 0 or day > 365 for day in value) or len(set(value)) != len(value):
            raise ValueError("distinct numbers of days from 0 to 365")
        return value

    @model_validator(mode="after")
    def _unique_policies(self) -> AwarenessSettings:
        ids = [policy.id for policy in self.policies]
        if len(set(ids)) != len(ids):
            raise ValueError("each policy id may appear once")
        return self

    def problems(self, person_ids: Collection[str]) -> list[tuple[str, str]]:
        """References to people the organisation file does not list (checked with the whole file)."""
        found: list[tuple[str, str]] = []
        for name, members in self.departments.items():
            found += [
                (f"awareness.departments.{name}", f"unknown person {m!r}") for m in members if m not in person_ids
            ]
        for index, policy in enumerate(self.policies):
            for key in ("owner", "approver"):
                if getattr(policy, key) not in person_ids:
                    found.append((f"awareness.policies.{index}.{key}", f"unknown person {getattr(policy, key)!r}"))
            if policy.approver == policy.owner:
                found.append(
                    (f"awareness.policies.{index}.approver", "must not be the owner, who authors the file's versions")
                )
        return found

    def department_of(self) -> dict[str, str]:
        """Person id -> department as the file names it (the first department listing them)."""
        mapping: dict[str, str] = {}
        for name, members in self.departments.items():
            for member in members:
                mapping.setdefault(member, name)
        return mapping

"""The organisation file: who is who, which channels, who owns which process.

It is validated as a whole when loaded, so a typo in a role or a manager reference stops the bot at
start-up with the file and the key named, instead of surfacing as a wrong permission weeks later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from config.activity_settings import ActivitySettings
from config.audit_settings import AuditSettings
from config.awareness_settings import AwarenessSettings
from config.change_settings import ChangeSettings
from config.errors import ConfigError, pydantic_problems
from config.incident_settings import IncidentSettings
from config.register_settings import RegisterSettings
from config.report_settings import MetricSettings, ReportSettings
from config.review_settings import ReviewSettings
from config.yaml_files import parse_yaml


class Role(StrEnum):
    """Every role a person can hold; workflows name roles only through this enum."""

    EMPLOYEE = "employee"
    OWNER = "owner"
    SECURITY_TEAM = "security_team"
    SECURITY_LEAD = "security_lead"
    ISMS_MANAGER = "isms_manager"
    AUDITOR = "auditor"
    DPO = "dpo"
    MANAGEMENT = "management"
    BUDGET_OWNER = "budget_owner"

    @property
    def label(self) -> str:
        """How people read the role in a sentence ("ISMS manager", "DPO", "security team"): the
        stored value is a machine name, and abbreviations keep their capitals."""
        return ROLE_LABELS[self]


ROLES: tuple[Role, ...] = tuple(Role)

# Spelled out, not derived from the value: "Isms manager" or "dpo" would both read wrong.
ROLE_LABELS: dict[Role, str] = {
    Role.EMPLOYEE: "employee",
    Role.OWNER: "owner",
    Role.SECURITY_TEAM: "security team",
    Role.SECURITY_LEAD: "security lead",
    Role.ISMS_MANAGER: "ISMS manager",
    Role.AUDITOR: "auditor",
    Role.DPO: "DPO",
    Role.MANAGEMENT: "management",
    Role.BUDGET_OWNER: "budget owner",
}


def role_labels(roles: Iterable[Role | str]) -> list[str]:
    """Roles as people read them, in alphabetical order regardless of capitals ("auditor, DPO, ISMS
    manager"), so every list of roles reads the same in refusals, the App Home and the console."""
    return sorted((Role(role).label for role in roles), key=str.casefold)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    """Somebody the bot knows by Slack id and/or e-mail."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    slack_id: str | None = Field(None, pattern=r"^[UW][A-Z0-9]{2,}$")
    roles: tuple[Role, ...] = (Role.EMPLOYEE,)
    manager: str | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            _zone(value)
        return value


_GROUP_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class Microsoft365(_Strict):
    """The ``microsoft365:`` section: what the bot takes from Entra ID when ``MSGRAPH_*`` is set.

    ``group_roles`` maps an Entra ID group's object id to the roles its members hold (membership is
    transitive: members of nested groups count). Where the file and the directory disagree, the file
    wins for the roles it names (see the README, "Microsoft 365").
    """

    group_roles: dict[str, tuple[Role, ...]] = Field(default_factory=dict)
    refresh_minutes: int = Field(360, ge=5, le=7 * 24 * 60, description="How long directory answers are kept.")
    mailbox: str | None = Field(
        None, description="Person id or e-mail of the mailbox that sends mail and organises events."
    )

    @field_validator("group_roles")
    @classmethod
    def _group_ids(cls, value: dict[str, tuple[Role, ...]]) -> dict[str, tuple[Role, ...]]:
        for group_id, roles in value.items():
            if not _GROUP_ID.match(group_id):
                raise ValueError(f"{group_id!r} is not an Entra ID group object id (a GUID)")
            if not roles:
                raise ValueError(f"group {group_id} maps to no role")
        return value


class Channels(_Strict):
    """Slack channel ids (or console names) the bot posts to."""

    security_triage: str = Field(min_length=1)
    isms_reports: str = Field(min_length=1)


class Organisation(_Strict):
    """The validated organisation file."""

    name: str = Field(min_length=1, max_length=200)
    timezone: str = "UTC"
    unlisted_people: Literal["employee", "deny"] = Field(
        "deny",
        description="What somebody who is not in `people` may do: act as an employee, or nothing.",
    )
    people: tuple[Person, ...] = Field(min_length=1)
    channels: Channels
    process_owners: dict[str, str] = Field(default_factory=dict)
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"default": 7 * 365},
        description="How long a record's data is kept, per process id, with 'default' for the rest.",
    )
    changes: ChangeSettings = Field(default_factory=ChangeSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    activities: ActivitySettings = Field(default_factory=ActivitySettings)
    metrics: MetricSettings = Field(default_factory=MetricSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    microsoft365: Microsoft365 = Field(default_factory=Microsoft365)
    audits: AuditSettings = Field(default_factory=AuditSettings)
    awareness: AwarenessSettings = Field(default_factory=AwarenessSettings)
    registers: RegisterSettings = Field(default_factory=RegisterSettings)
    second_reviewer: str | None = Field(
        None,
        description="Person id asked to accept evidence or approve a change when the only people who "
        "could are the ones who handed it in or asked for it (separation of duties).",
    )
    reviews: ReviewSettings = Field(default_factory=ReviewSettings)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        _zone(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def retention(self, process_id: str) -> int | None:
        """Days a record of this process is kept; None means for ever."""
        return self.retention_days.get(process_id, self.retention_days.get("default"))

    @cached_property
    def _index(self) -> dict[str, dict[str, int]]:
        """Position of each person by id, Slack id and e-mail (first one wins, as in the list), so a
        fan-out to thousands of people does not scan the list for every message."""
        index: dict[str, dict[str, int]] = {"id": {}, "slack": {}, "email": {}}
        for position, person in enumerate(self.people):
            index["id"].setdefault(person.id, position)
            if person.slack_id:
                index["slack"].setdefault(person.slack_id, position)
            if person.email:
                index["email"].setdefault(person.email.lower(), position)
        return index

    def person(self, person_id: str) -> Person | None:
        position = self._index["id"].get(person_id)
        return self.people[position] if position is not None else None

    def find(self, *, slack_id: str | None = None, email: str | None = None) -> Person | None:
        """The person with this Slack id or e-mail (case-insensitive), if listed."""
        positions = [
            self._index["slack"].get(slack_id) if slack_id else None,
            self._index["email"].get(email.lower()) if email else None,
        ]
        found = [position for position in positions if position is not None]
        return self.people[min(found)] if found else None

    def with_role(self, role: str) -> list[Person]:
        return [p for p in self.people if role in p.roles]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin)") from None


def _cross_check(org: Organisation, process_ids: set[str]) -> list[tuple[str, str]]:
    """Rules that span several keys: unique ids, existing references."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    ids = {p.id for p in org.people}
    for index, person in enumerate(org.people):
        if person.id in seen:
            problems.append((f"people.{index}.id", f"duplicate person id {person.id!r}"))
        seen[person.id] = index
        if person.email is None and person.slack_id is None:
            problems.append((f"people.{index}", "needs an email or a slack_id"))
        if person.manager is not None and person.manager not in ids:
            problems.append((f"people.{index}.manager", f"unknown person {person.manager!r}"))
    for process_id, owner in org.process_owners.items():
        if process_id not in process_ids:
            problems.append((f"process_owners.{process_id}", f"unknown process {process_id!r}"))
        if owner not in ids:
            problems.append((f"process_owners.{process_id}", f"unknown person {owner!r}"))
    problems.extend(org.incidents.problems(ids))
    problems.extend(org.metrics.problems(process_ids))
    problems.extend(org.awareness.problems(ids))
    problems.extend(org.reviews.problems(ids))
    for process_id, days in org.retention_days.items():
        if process_id != "default" and process_id not in process_ids:
            problems.append((f"retention_days.{process_id}", f"unknown process {process_id!r}"))
        if days < 1:
            problems.append((f"retention_days.{process_id}", "must be at least 1 day"))
    mailbox = org.microsoft365.mailbox
    if mailbox is not None and "@" not in mailbox:
        holder = org.person(mailbox)
        if holder is None:
            problems.append(("microsoft365.mailbox", f"unknown person {mailbox!r} (a person id or an e-mail)"))
        elif holder.email is None:
            problems.append(("microsoft365.mailbox", f"person {mailbox!r} has no email"))
    if org.second_reviewer is not None and org.second_reviewer not in ids:
        problems.append(("second_reviewer", f"unknown person {org.second_reviewer!r}"))
    if not org.with_role("isms_manager"):
        problems.append(("people", "nobody has the role isms_manager"))
    return problems


def load_organisation(path: str | Path, process_ids: set[str]) -> Organisation:
    """Load and validate an organisation file; any problem is a ConfigError naming file and key."""
    path = Path(path)
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, [("", "file not found")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(path, [(where, f"not valid YAML: {getattr(error, 'problem', error)}")]) from None
    if not isinstance(raw, dict):
        raise ConfigError(path, [("", "must be a mapping of keys (name, timezone, people, channels, ...)")])
    try:
        org = Organisation.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(path, pydantic_problems(error)) from None
    problems = _cross_check(org, process_ids)
    if problems:
        raise ConfigError(path, problems)
    return org

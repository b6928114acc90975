"""The process catalogue: which ISMS processes exist, how they feed each other, and what work they need.

The processes are data, not code, so an organisation that follows another reference model than
ISO/IEC TS 27022 can load its own file. The bot trusts the catalogue when it routes results between
processes and schedules activities, so a broken file must stop start-up with a `ConfigError` that
names the file and the key, instead of surfacing later as a lookup failure in a running workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from config.errors import ConfigError, pydantic_problems
from config.yaml_files import parse_yaml

DEFAULT_CATALOGUE = Path(__file__).parent / "catalogues" / "ts27022.yaml"
"""The ISO/IEC TS 27022 catalogue that ships with the bot and is used when no other is configured."""

CADENCE_WORDS = ("yearly", "quarterly", "monthly", "weekly", "on-event")
"""Cadences the scheduler understands by name; anything else must be a 5-field cron expression."""

EvidenceKind = Literal["text", "link", "file", "number", "approval"]
"""What a person hands in to show an activity was done; it decides which chat form the bot shows."""

Role = Literal[
    "employee",
    "owner",
    "security_team",
    "isms_manager",
    "auditor",
    "dpo",
    "management",
    "budget_owner",
    "process_owner",
]
"""Roles the bot can resolve to people; a typo here would leave an activity nobody is chased for."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ProcessId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*(\.[A-Z0-9]+)*$")]
"""Short upper-case ids such as ``GOV`` (27022) or ``TEC.02`` (33052); they appear in config and records."""
ActivityId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]


class _Frozen(BaseModel):
    """Immutable and strict: the catalogue is shared by every workflow, and unknown keys are typos."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _raise_problems(title: str, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise one pydantic error per problem so each keeps its own key when nested in a larger model.

    A plain ``ValueError`` from a model validator would collapse everything onto the model's own key,
    and the person fixing the file needs to know which entry is wrong.
    """
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(type=PydanticCustomError("catalogue", message), loc=loc, input=None)
                for loc, message in problems
            ],
        )


class Edge(_Frozen):
    """One arrow between two processes: ``what`` flows from or to the process named by ``process``."""

    process: ProcessId
    what: Text


class InputEdge(Edge):
    """Something a process receives; written ``from: <id>`` in the file, read as ``edge.process``."""

    process: ProcessId = Field(alias="from")


class ResultEdge(Edge):
    """Something a process delivers; written ``to: <id>`` in the file, read as ``edge.process``."""

    process: ProcessId = Field(alias="to")


class Activity(_Frozen):
    """A piece of recurring or event-driven work the bot asks someone to do and collects evidence for."""

    id: ActivityId
    name: Text
    evidence: EvidenceKind
    cadence: Text
    owner_role: Role
    clause: Text | None = None

    @field_validator("cadence")
    @classmethod
    def _known_cadence(cls, value: str) -> str:
        """Reject cadences the scheduler could not run, at load time rather than when the job is added."""
        if value in CADENCE_WORDS:
            return value
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(
                f"cadence must be one of {', '.join(CADENCE_WORDS)} or a 5-field cron expression ({error})"
            ) from None
        return value


class Process(_Frozen):
    """One process of the reference model with its edges and the activities that make it happen."""

    id: ProcessId
    name: Text
    category: Text
    purpose: Text
    clauses: tuple[Text, ...] = ()
    inputs: tuple[InputEdge, ...] = ()
    results: tuple[ResultEdge, ...] = ()
    activities: tuple[Activity, ...] = ()

    @model_validator(mode="after")
    def _unique_activity_ids(self) -> Process:
        """Activity ids key schedules and records, so two activities with one id would share them."""
        seen: set[str] = set()
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, activity in enumerate(self.activities):
            if activity.id in seen:
                problems.append((("activities", index, "id"), f"duplicate activity id '{activity.id}'"))
            seen.add(activity.id)
        _raise_problems("Process", problems)
        return self


class Catalogue(_Frozen):
    """A whole process reference model: its name, its categories and its processes, checked for consistency."""

    model: Text
    categories: tuple[Text, ...] = Field(min_length=1)
    processes: tuple[Process, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        """Check what single fields cannot: unique ids, declared categories, and edges to real processes."""
        problems: list[tuple[tuple[str | int, ...], str]] = []

        declared: set[str] = set()
        for index, category in enumerate(self.categories):
            if category in declared:
                problems.append((("categories", index), f"duplicate category '{category}'"))
            declared.add(category)

        first_index: dict[str, int] = {}
        for index, process in enumerate(self.processes):
            if process.id in first_index:
                problems.append(
                    (
                        ("processes", index, "id"),
                        f"duplicate process id '{process.id}' (first at processes.{first_index[process.id]})",
                    )
                )
            else:
                first_index[process.id] = index
            if process.category not in declared:
                problems.append(
                    (("processes", index, "category"), f"category '{process.category}' is not declared in categories")
                )

        used = {process.category for process in self.processes}
        for index, category in enumerate(self.categories):
            if category not in used:
                problems.append((("categories", index), f"no process has category '{category}'"))

        for index, process in enumerate(self.processes):
            for field, key, edges in (("inputs", "from", process.inputs), ("results", "to", process.results)):
                for edge_index, edge in enumerate(edges):
                    if edge.process not in first_index:
                        problems.append(
                            (("processes", index, field, edge_index, key), f"unknown process '{edge.process}'")
                        )

        _raise_problems("Catalogue", problems)
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        """Process ids in file order, which is the order people expect in tables and menus."""
        return tuple(process.id for process in self.processes)

    def get(self, process_id: str) -> Process:
        """The process with this id; ``KeyError`` lists the valid ids because the caller probably mistyped."""
        for process in self.processes:
            if process.id == process_id:
                return process
        raise KeyError(f"unknown process '{process_id}' (known: {', '.join(self.ids)})")

    def __iter__(self) -> Iterator[Process]:  # type: ignore[override]
        """Iterate over processes, the thing callers of a catalogue almost always want."""
        return iter(self.processes)

    def __len__(self) -> int:
        return len(self.processes)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read and check a catalogue file; ``None`` means the packaged ISO/IEC TS 27022 catalogue.

    Every failure, from a missing file over a YAML syntax error to an edge naming an unknown process,
    becomes a `ConfigError` for this file, so start-up and ``config check`` report it the same way.
    """
    source = Path(path) if path is not None else DEFAULT_CATALOGUE
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(source, [("", f"cannot read the catalogue: {error.strerror or error}")]) from None

    try:
        data = parse_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError(source, [("", _yaml_message(error))]) from None

    if not isinstance(data, dict):
        raise ConfigError(source, [("", "expected a mapping with model, categories and processes")])

    try:
        return Catalogue.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, pydantic_problems(error)) from None


def _yaml_message(error: yaml.YAMLError) -> str:
    """Describe a YAML error with the 1-based line and column people see in their editor."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def catalogue_table_rows(catalogue: Catalogue) -> list[tuple[str, ...]]:
    """One row per process for the CLI table: id, name, category, clauses, input ids, result ids, activity count.

    Edge ids are de-duplicated because a process may exchange several things with the same neighbour,
    and the table is about who talks to whom.
    """
    return [
        (
            process.id,
            process.name,
            process.category,
            ", ".join(process.clauses),
            ", ".join(dict.fromkeys(edge.process for edge in process.inputs)),
            ", ".join(dict.fromkeys(edge.process for edge in process.results)),
            str(len(process.activities)),
        )
        for process in catalogue.processes
    ]

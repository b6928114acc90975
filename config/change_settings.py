"""The organisation file's ``changes`` section: how change requests map onto the tracker (Jira).

Everything an organisation tunes about its Jira project lives here rather than in code: which issue
type each requesting process gets, how our priorities and Jira's relate, which labels, components
and custom fields to set, and which Jira statuses mean "being implemented", "implemented" or "failed".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ChangeState = Literal["in-implementation", "implemented", "failed"]
Priority = Literal["low", "medium", "high", "critical"]
PRIORITIES: tuple[str, ...] = Priority.__args__  # type: ignore[attr-defined]


class ChangeSettings(BaseModel):
    """Tracker mapping for change requests; every key is optional (defaults fit a stock Jira project)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    create_on: Literal["approved", "created"] = Field(
        "approved", description="Open the tracker issue once the change is approved, or as soon as it is recorded."
    )
    project: str | None = Field(None, description="Jira project key; JIRA_PROJECT when not set here.")
    issue_types: dict[str, str] = Field(
        default_factory=lambda: {"default": "Task"},
        description="Issue type per requesting process id (INC, AUD, ...); 'default' for the rest.",
    )
    priorities: dict[str, str] = Field(
        default_factory=lambda: {"low": "Low", "medium": "Medium", "high": "High", "critical": "Highest"}
    )
    labels: tuple[str, ...] = Field(("isms",), description="Labels on every issue, besides the change's own.")
    components: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description="Extra fields set on create, by Jira field id (customfield_10010: ...)."
    )
    statuses: dict[str, ChangeState] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "To Do": "in-implementation",
            "In Progress": "in-implementation",
            "Done": "implemented",
            "Resolved": "implemented",
            "Closed": "implemented",
        },
        description="Jira status name -> change state; statuses not listed leave the change as it is.",
    )
    failed_resolutions: tuple[str, ...] = Field(
        ("Won't Do", "Won't Fix", "Declined"),
        description="Resolutions that make a resolved issue a failed change rather than an implemented one.",
    )
    description_template: str = Field("change_ticket.j2", pattern=r"^[\w.-]+\.j2$")
    record_url: str = Field(
        "", description="Link back to the change's record; '{ref}' is replaced by the change reference."
    )
    poll_minutes: int = Field(5, ge=0, le=1440, description="How often to poll Jira for updates; 0 turns it off.")

    @field_validator("labels", "components")
    @classmethod
    def _no_blank(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not value.strip() or any(ch.isspace() for ch in value):
                raise ValueError(f"{value!r} must be one word without spaces")
        return values

    @field_validator("priorities")
    @classmethod
    def _known_priorities(cls, values: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(values) - set(PRIORITIES))
        if unknown:
            raise ValueError(f"unknown priority {unknown[0]!r} (use {', '.join(PRIORITIES)})")
        return values

    @field_validator("issue_types")
    @classmethod
    def _has_default(cls, values: dict[str, str]) -> dict[str, str]:
        if "default" not in values:
            raise ValueError("needs a 'default' issue type")
        return values

    def issue_type_for(self, process: str) -> str:
        return self.issue_types.get(process, self.issue_types["default"])

    def priority_for(self, priority: str) -> str:
        return self.priorities.get(priority) or priority.capitalize()

"""The organisation file's ``reviews`` section: when top management reviews the ISMS (GOV, 27001 9.3),
who attends, and how early the input pack is put together.

A review series starts at ``first`` and repeats every ``every_months`` months (0: only that one);
the bot schedules the next one as soon as the previous one has passed, and assembles its input pack
``pack_days_before`` days ahead. More reviews can be called at any time with ``/isms review new``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ReviewSettings(BaseModel):
    """``reviews:``; without ``first`` nothing is scheduled from the file (reviews on demand only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first: datetime | None = Field(
        None, description='The first planned review, local time of the organisation: "2027-03-15 10:00".'
    )
    every_months: int = Field(12, ge=0, le=36, description="Months between planned reviews; 0 for one review.")
    duration_minutes: int = Field(120, ge=15, le=8 * 60)
    chair: str | None = Field(None, description="Person id of the chair (top management); the GOV owner if unset.")
    attendees: tuple[str, ...] = Field((), description="Person ids invited besides the chair.")
    pack_days_before: int = Field(7, ge=1, le=60, description="Days before a review its input pack is assembled.")
    location: str = Field("", max_length=200)

    @field_validator("first")
    @classmethod
    def _local(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError('write the local time without a zone, e.g. "2027-03-15 10:00"')
        return value

    def problems(self, person_ids: set[str]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.chair is not None and self.chair not in person_ids:
            found.append(("reviews.chair", f"unknown person {self.chair!r}"))
        for index, person in enumerate(self.attendees):
            if person not in person_ids:
                found.append((f"reviews.attendees.{index}", f"unknown person {person!r}"))
        return found

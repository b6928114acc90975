"""The forms of management reviews and their validation: pure and fast (Slack validates a form before
its 3-second ack), each problem on its field with what to fix, so nothing is half-stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from config.organisation import Organisation
from workflows.changes.forms import LIMITS as CHANGE_LIMITS
from workflows.kernel.people import find_person
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text

NEW, DECIDE = "review.new", "review.decide"
TITLE_LIMIT, LOCATION_LIMIT, DECISIONS_LIMIT, ACTIONS_LIMIT = 200, 200, 3000, 3000
MAX_ACTIONS = 20
DEFAULT_TITLE = "Management review"


@dataclass(frozen=True)
class ActionLine:
    text: str
    owner: str
    due: date


def new_form(org: Organisation, now: datetime, chair: str) -> Form:
    settings = org.reviews
    return Form(
        NEW,
        "New management review",
        (
            FormField("title", "Title", max_length=TITLE_LIMIT, initial=DEFAULT_TITLE),
            FormField("starts", "When", "datetime", initial=str(int(now.timestamp()) + 7 * 86400)),
            FormField(
                "duration", "Minutes", "number", initial=str(settings.duration_minutes), hint="15 to 480 minutes"
            ),
            FormField("chair", "Chair", "person", required=False, hint=f"Left empty: {chair}"),
            FormField(
                "attendees",
                "Attendees",
                "multiline",
                max_length=2000,
                initial=", ".join(settings.attendees),
                hint="Person ids or e-mail addresses, separated by commas",
            ),
            FormField(
                "location", "Where", required=False, max_length=LOCATION_LIMIT, initial=settings.location or None
            ),
        ),
        submit_label="Schedule",
        fallback="Ask the ISMS manager to try again in a moment.",
    )


def validate_new(org: Organisation, values: dict[str, str], now: datetime) -> dict[str, str]:
    errors = check_text(values, "title", TITLE_LIMIT) | check_text(values, "location", LOCATION_LIMIT, required=False)
    starts = parse_moment(values.get("starts", ""))
    if starts is None:
        errors["starts"] = "Pick the date and time of the review."
    elif starts <= now:
        errors["starts"] = "That time has passed: pick a time in the future."
    duration = values.get("duration", "").strip()
    if not duration.isdigit() or not 15 <= int(duration) <= 480:
        errors["duration"] = "Give the length in minutes, from 15 to 480."
    if values.get("chair", "").strip() and find_person(org, values["chair"]) is None:
        errors["chair"] = "Pick somebody listed in the organisation file."
    people, unknown = parse_people(org, values.get("attendees", ""))
    if unknown:
        errors["attendees"] = f"Not in the organisation file: {', '.join(unknown[:5])}."
    elif not people:
        errors["attendees"] = "Name at least one attendee."
    return errors


def parse_moment(value: str) -> datetime | None:
    """A datetime field's value (seconds since the epoch, as Slack and the console give it)."""
    value = value.strip()
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def parse_people(org: Organisation, text: str) -> tuple[list[str], list[str]]:
    """(person ids in the order given, without repeats; what matched nobody)."""
    found: list[str] = []
    unknown: list[str] = []
    for word in re.split(r"[,\s]+", text.strip()):
        if not word:
            continue
        person = find_person(org, word)
        if person is None:
            unknown.append(word)
        elif person.id not in found:
            found.append(person.id)
    return found, unknown


def decide_form(ref: str) -> Form:
    return Form(
        DECIDE,
        f"Decisions of {ref}",
        (
            FormField("decisions", "What was decided", "multiline", max_length=DECISIONS_LIMIT),
            FormField(
                "actions",
                "Actions, one a line",
                "multiline",
                required=False,
                max_length=ACTIONS_LIMIT,
                hint="What; owner (person id or e-mail); due date YYYY-MM-DD. Each becomes a change request.",
            ),
        ),
        submit_label="Record",
        metadata=ref,
    )


def validate_decision(org: Organisation, values: dict[str, str], today: date) -> dict[str, str]:
    errors = check_text(values, "decisions", DECISIONS_LIMIT) | check_text(
        values, "actions", ACTIONS_LIMIT, required=False
    )
    if "actions" not in errors:
        _, problem = parse_actions(org, values.get("actions", ""), today)
        if problem:
            errors["actions"] = problem
    return errors


def parse_actions(org: Organisation, text: str, today: date) -> tuple[list[ActionLine], str]:
    """The action lines, or the first problem (naming its line) and no actions."""
    actions: list[ActionLine] = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_ACTIONS:
        return [], f"At most {MAX_ACTIONS} actions, please (this has {len(lines)})."
    for number, line in enumerate(lines, 1):
        parts = [part.strip() for part in line.split(";")]
        if len(parts) != 3 or not all(parts):
            return [], f"Line {number}: write it as: what; owner; YYYY-MM-DD."
        what, owner, due_text = parts
        if len(what) > CHANGE_LIMITS["title"]:
            return [], f"Line {number}: say what in at most {CHANGE_LIMITS['title']} characters."
        person = find_person(org, owner)
        if person is None:
            return [], f"Line {number}: {owner} is not in the organisation file."
        try:
            due = date.fromisoformat(due_text)
        except ValueError:
            return [], f"Line {number}: write the due date as YYYY-MM-DD."
        if due < today:
            return [], f"Line {number}: the due date {due.isoformat()} has passed."
        actions.append(ActionLine(what, person.id, due))
    return actions, ""

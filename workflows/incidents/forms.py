"""The incident forms and their validation.

Validation is pure (configuration and the clock only, no database): it runs before Slack's ack so
errors show on the field, and whatever it rejects is never stored. Each form's fields and limits
are defined once here and used by Slack and the console alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workflows.incidents.clocks import CLOCK_LABELS
from workflows.incidents.lifecycle import TRIAGE_ROLES
from workflows.kernel.people import find_person
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context

MAX_REPORT = 3000
MAX_NOTE = 3000
MAX_REASON = 1000
MAX_TITLE = 200
MAX_AFFECTED = 200
MAX_LINKS = 2000
MAX_FILES = 5
FUTURE_TOLERANCE = timedelta(minutes=2)
OLDEST_NOTICED = timedelta(days=366)

REPORT = "incident.report"
NOT_INCIDENT = "incident.not_incident"
ASSIGN = "incident.assign"
NOTE = "incident.note"
CHANGE = "incident.change"
CLOSE = "incident.close"
NOTIFIED = "incident.notified"
PERSONAL_DATA = "incident.personal_data"
ADD_TO_TIMELINE = "incident.add_to_timeline"
"""The message shortcut "Add to incident timeline", and the form asking which incident."""
REF_PATTERN = re.compile(r"INC-\d{4}-\d{4,}")
MAX_TIMELINE_TEXT = 2000
"""Form callback ids; each triage form is opened by the button with the same action id."""

REPORT_FALLBACK = "Type `/incident <what happened>` instead: that reports it at once, and you can add details later."
"""What to do when the report form cannot be opened (Slack throttled or refused it, or it took too long)."""

PERSONAL_DATA_LABELS = {"yes": "Yes", "no": "No", "not_sure": "Not sure"}
DECISIONS = {
    "authority": "Notified the authority",
    "people": "Notified the people affected",
    "not_notifiable": "Assessed as not notifiable (unlikely to result in a risk)",
}
"""What the DPO records about a regulatory deadline; each one ends its reminders."""
CLOSE_ANYWAY = "yes"


@dataclass(frozen=True)
class ReportDetails:
    """A validated report, as the workflow stores it."""

    summary: str
    noticed_at: datetime
    affected: str = ""
    category: str | None = None
    personal_data: str | None = None
    links: str = ""
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """The chat message a report was made from (message shortcut)."""

    permalink: str | None = None
    author: str | None = None

    def to_metadata(self) -> str:
        return json.dumps({"source": {"permalink": self.permalink, "author": self.author}})


def _epoch(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def check_moment(ctx: Context, values: Mapping[str, str], name: str, *, earliest: timedelta) -> dict[str, str]:
    """A date and time (epoch seconds, as Slack's picker sends): not in the future, not absurdly old."""
    raw = (values.get(name) or "").strip()
    if not raw:
        return {}
    moment = _epoch(raw)
    now = ctx.clock()
    if moment is None:
        return {name: "Please pick a date and time."}
    if moment > now + FUTURE_TOLERANCE:
        return {name: "This is in the future. Please give the time it already happened."}
    if moment < now - earliest:
        return {name: "This is too far back. Please check the date."}
    return {}


def moment_or_now(ctx: Context, values: Mapping[str, str], name: str) -> datetime:
    return _epoch((values.get(name) or "").strip()) or ctx.clock()


def _files(value: str) -> list[str] | None:
    if not value.strip():
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if not isinstance(parsed, list) or not all(isinstance(item, str) and item for item in parsed):
        return None
    return parsed


# -- the report form --------------------------------------------------------------------------------


def report_form(ctx: Context, *, metadata: str = "", initial: Mapping[str, str] | None = None) -> Form:
    initial = initial or {}
    categories = tuple(ctx.org.incidents.categories.items())
    return Form(
        callback_id=REPORT,
        title="Report an incident",
        submit_label="Report",
        metadata=metadata,
        fallback=REPORT_FALLBACK,
        fields=(
            FormField(
                "what",
                "What happened?",
                "multiline",
                max_length=MAX_REPORT,
                initial=initial.get("what"),
                hint="In your own words. Please do not paste passwords.",
            ),
            FormField(
                "noticed",
                "When did you notice it?",
                "datetime",
                required=False,
                initial=initial.get("noticed") or str(int(ctx.clock().timestamp())),
            ),
            FormField(
                "affected",
                "Affected system or asset",
                required=False,
                max_length=MAX_AFFECTED,
                initial=initial.get("affected"),
            ),
            FormField("category", "Category", "select", options=categories, initial=initial.get("category")),
            FormField(
                "personal_data",
                "Personal data may be affected",
                "select",
                options=tuple(PERSONAL_DATA_LABELS.items()),
                initial=initial.get("personal_data"),
            ),
            FormField(
                "links", "Links", "multiline", required=False, max_length=MAX_LINKS, initial=initial.get("links")
            ),
            FormField("files", "Files", "files", required=False),
        ),
    )


def validate_report(ctx: Context, values: Mapping[str, str]) -> dict[str, str]:
    errors = check_text(values, "what", MAX_REPORT, what="what happened")
    errors |= check_moment(ctx, values, "noticed", earliest=OLDEST_NOTICED)
    errors |= check_text(values, "affected", MAX_AFFECTED, required=False)
    errors |= check_text(values, "links", MAX_LINKS, required=False)
    category = (values.get("category") or "").strip()
    if not category:
        errors["category"] = "Please choose a category."
    elif category not in ctx.org.incidents.categories:
        errors["category"] = "Unknown category. Please choose one from the list."
    personal = (values.get("personal_data") or "").strip()
    if personal not in PERSONAL_DATA_LABELS:
        errors["personal_data"] = "Please answer yes, no or not sure."
    files = _files(values.get("files") or "")
    if files is None:
        errors["files"] = "Files can only be attached with the file picker."
    elif len(files) > MAX_FILES:
        errors["files"] = f"At most {MAX_FILES} files, please."
    return errors


def parse_report(ctx: Context, values: Mapping[str, str]) -> ReportDetails:
    """A validated form's values as a report (call ``validate_report`` first)."""
    return ReportDetails(
        summary=values["what"].strip(),
        noticed_at=moment_or_now(ctx, values, "noticed"),
        affected=(values.get("affected") or "").strip(),
        category=values["category"].strip(),
        personal_data=values["personal_data"].strip(),
        links=(values.get("links") or "").strip(),
        files=tuple(_files(values.get("files") or "") or ()),
    )


# -- triage forms -------------------------------------------------------------------------------------


def triage_form(
    ctx: Context,
    callback_id: str,
    ref: str,
    *,
    clocks: tuple[str, ...] = (),
    initial: Mapping[str, str] | None = None,
    warnings: tuple[str, ...] = (),
) -> Form:
    """The form behind a triage button; ``clocks`` lists the running clocks (for "notified"),
    ``initial`` what the incident holds now, ``warnings`` what closing would override (for "close":
    then a confirmation is asked)."""
    initial = initial or {}
    confirm = (
        (
            FormField(
                "override",
                "Close anyway?",
                "select",
                options=((CLOSE_ANYWAY, "Yes, close it anyway (this is recorded)"),),
                hint=" ".join(warnings),
            ),
        )
        if warnings
        else ()
    )
    fields = {
        NOT_INCIDENT: (
            "Not an incident",
            (
                FormField(
                    "reason",
                    "Why is this not an incident?",
                    "multiline",
                    max_length=MAX_REASON,
                    hint="The reporter is told this reason.",
                ),
            ),
        ),
        ASSIGN: (
            "Assign handler",
            (
                FormField(
                    "handler",
                    "Handler",
                    "person",
                    hint="A member of the security team (in the console: their e-mail or Slack id).",
                ),
            ),
        ),
        NOTE: (
            "Add note",
            (FormField("note", "Note", "multiline", max_length=MAX_NOTE, hint="Only the security team sees notes."),),
        ),
        CHANGE: (
            "Request change",
            (
                FormField("title", "Title", max_length=MAX_TITLE),
                FormField("description", "What should change?", "multiline", max_length=MAX_NOTE),
                FormField("reason", "Why (what the incident showed)", "multiline", max_length=MAX_REASON),
            ),
        ),
        CLOSE: (
            "Close incident",
            (
                FormField("root_cause", "Root cause", "multiline", max_length=MAX_NOTE),
                FormField(
                    "lessons",
                    "Lessons learned",
                    "multiline",
                    max_length=MAX_NOTE,
                    hint="Kept as input for awareness training.",
                ),
                *confirm,
            ),
        ),
        PERSONAL_DATA: (
            "Personal data",
            (
                FormField(
                    "personal_data",
                    "Personal data may be affected",
                    "select",
                    options=tuple(PERSONAL_DATA_LABELS.items()),
                    initial=initial.get("personal_data") or None,
                    hint="Yes or not sure starts the GDPR clock from when the incident was classified.",
                ),
            ),
        ),
        NOTIFIED: (
            "Record notification",
            (
                FormField(
                    "clock",
                    "Which notification was made?",
                    "select",
                    options=tuple((kind, CLOCK_LABELS[kind]) for kind in clocks),
                    initial=clocks[0] if clocks else None,
                ),
                FormField(
                    "decision",
                    "What was decided?",
                    "select",
                    options=tuple(DECISIONS.items()),
                    initial="authority",
                ),
                FormField(
                    "at", "When was it sent?", "datetime", required=False, initial=str(int(ctx.clock().timestamp()))
                ),
                FormField(
                    "note",
                    "Reference, or why it is not notifiable",
                    required=False,
                    max_length=MAX_REASON,
                    hint="The authority's reference, or the reason (needed when not notifiable).",
                ),
            ),
        ),
    }
    title, form_fields = fields[callback_id]
    return Form(callback_id=callback_id, title=title, fields=form_fields, metadata=ref)


def _validate_assign(ctx: Context, values: Mapping[str, str]) -> dict[str, str]:
    value = (values.get("handler") or "").strip()
    if not value:
        return {"handler": "Please choose a handler."}
    person = find_person(ctx.org, value)
    if person is None:
        return {"handler": "This person is not in the organisation file."}
    if not TRIAGE_ROLES.intersection(person.roles):
        return {"handler": f"{person.name} is not in the security team; please choose somebody who is."}
    return {}


def _one_line(values: Mapping[str, str], name: str) -> dict[str, str]:
    return {name: "Please keep this to one line."} if "\n" in (values.get(name) or "").strip() else {}


def _validate_notified(ctx: Context, values: Mapping[str, str]) -> dict[str, str]:
    errors = check_text(values, "note", MAX_REASON, required=False)
    if (values.get("clock") or "") not in CLOCK_LABELS:
        errors["clock"] = "Please choose which notification was made."
    decision = values.get("decision") or "authority"
    if decision not in DECISIONS:
        errors["decision"] = "Please choose what was decided."
    elif decision == "not_notifiable" and not (values.get("note") or "").strip():
        errors["note"] = "Please give the reason it is not notifiable."
    return errors | check_moment(ctx, values, "at", earliest=timedelta(days=400))


TRIAGE_VALIDATORS: dict[str, Callable[[Context, Mapping[str, str]], dict[str, str]]] = {
    NOT_INCIDENT: lambda ctx, v: check_text(v, "reason", MAX_REASON, what="the reason"),
    ASSIGN: _validate_assign,
    NOTE: lambda ctx, v: check_text(v, "note", MAX_NOTE, what="the note"),
    CHANGE: lambda ctx, v: (
        check_text(v, "title", MAX_TITLE, what="a title")
        or _one_line(v, "title")
        | check_text(v, "description", MAX_NOTE, what="what should change")
        | check_text(v, "reason", MAX_REASON, what="the reason")
    ),
    CLOSE: lambda ctx, v: (
        check_text(v, "root_cause", MAX_NOTE, what="the root cause")
        | check_text(v, "lessons", MAX_NOTE, what="the lessons learned")
        | (
            {"override": "Please confirm, or cancel and resolve this first."}
            if v.get("override", CLOSE_ANYWAY) != CLOSE_ANYWAY
            else {}
        )
    ),
    NOTIFIED: _validate_notified,
    PERSONAL_DATA: lambda ctx, v: (
        {}
        if (v.get("personal_data") or "") in PERSONAL_DATA_LABELS
        else {"personal_data": "Please answer yes, no or not sure."}
    ),
}


def timeline_form(metadata: str) -> Form:
    """Which incident a message from elsewhere belongs to (the message itself rides in ``metadata``)."""
    field = FormField(
        "ref", "Which incident?", max_length=20, hint="Its reference, as in the triage channel: INC-2026-0042"
    )
    return Form(ADD_TO_TIMELINE, "Add to incident timeline", (field,), submit_label="Add", metadata=metadata)


def validate_timeline(ctx: Context, values: Mapping[str, str]) -> dict[str, str]:
    if not REF_PATTERN.fullmatch(values.get("ref", "").strip().upper()):
        return {"ref": "Please give the incident's reference, such as INC-2026-0042."}
    return {}

"""The forms of evidence requests and their validation.

Validation is pure and fast (it runs before Slack's 3-second ack and stores nothing): it looks only at
the submitted values, so its errors appear on the field that needs fixing. Which fields a form has
depends on the evidence the activity expects; the values tell which fields were there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

from storage.models.evidence import EvidenceRequest
from workflows.kernel.people import find_person
from workflows.kernel.ui import Form, FormField
from workflows.kernel.work import Context

SUBMIT_FORM, NA_FORM, DELEGATE_FORM = "evidence.submit", "evidence.not_applicable", "evidence.delegate"
ACCEPT_FORM, REJECT_FORM = "evidence.accept", "evidence.reject"
FILES_META = "files:meta"
"""Extra value the Slack surface adds next to ``files``: name, size and type of each shared file."""

MAX_TEXT, MAX_LINK, MAX_REASON = 3000, 2000, 1000
MAX_FILES = 5


@dataclass(frozen=True)
class FileRef:
    """A file shared in Slack for a submission: its id, and name and size when Slack told us."""

    id: str
    name: str | None = None
    size: int | None = None


def submit_form(ctx: Context, request: EvidenceRequest) -> Form:
    limit = ctx.org.activities.max_file_mb
    fields: list[FormField] = []
    if request.evidence_kind == "number":
        fields.append(FormField("number", "The number", "number", hint="The measured or counted value."))
    if request.evidence_kind == "approval":
        fields.append(
            FormField(
                "decision",
                "Your decision",
                "select",
                options=(("approved", "I approve"), ("declined", "I do not approve")),
            )
        )
    fields += [
        FormField(
            "text",
            "What was done",
            "multiline",
            required=False,
            max_length=MAX_TEXT,
            hint="Describe the evidence, or add a link or a file below.",
        ),
        FormField("link", "Link", "url", required=False, max_length=MAX_LINK, hint="http:// or https:// only."),
        FormField("files", "Files", "files", required=False, hint=f"Up to {MAX_FILES} files of at most {limit:g} MB."),
        FormField("covers_from", "The evidence covers from", "date", initial=request.period_start.isoformat()),
        FormField("covers_to", "until", "date", initial=request.period_end.isoformat()),
    ]
    return Form(SUBMIT_FORM, f"Evidence {request.ref}", tuple(fields), "Submit", metadata=str(request.id))


def not_applicable_form(request: EvidenceRequest) -> Form:
    reason = FormField("reason", "Why does this not apply?", "multiline", max_length=MAX_REASON)
    return Form(NA_FORM, f"Not applicable {request.ref}", (reason,), "Send", metadata=str(request.id))


def delegate_form(request: EvidenceRequest) -> Form:
    fields = (
        FormField("person", "Who should answer it?", "person"),
        FormField("note", "Note for them", "multiline", required=False, max_length=MAX_REASON),
    )
    return Form(DELEGATE_FORM, f"Delegate {request.ref}", fields, "Delegate", metadata=str(request.id))


def review_form(ctx: Context, request: EvidenceRequest, submission_id: int, accept: bool) -> Form:
    metadata = f"{request.id}:{submission_id}"
    if accept:
        comment = FormField("comment", "Comment", "multiline", required=False, max_length=MAX_REASON)
        return Form(ACCEPT_FORM, f"Accept {request.ref}", (comment,), "Accept", metadata=metadata)
    due = ctx.clock().astimezone(ctx.org.zone).date() + timedelta(days=ctx.org.activities.rejection_due_days)
    fields = (
        FormField("comment", "What is missing or wrong?", "multiline", max_length=MAX_REASON),
        FormField("due", "New due date", "date", initial=due.isoformat()),
    )
    return Form(REJECT_FORM, f"Reject {request.ref}", fields, "Reject", metadata=metadata)


# -- validation --------------------------------------------------------------------------------------


def validate_submission(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    text, link = values.get("text", "").strip(), values.get("link", "").strip()
    files = parse_files(values)
    if len(text) > MAX_TEXT:
        errors["text"] = f"Please keep it under {MAX_TEXT} characters (it has {len(text)})."
    if link and not is_web_link(link):
        errors["link"] = "Give a web address starting with http:// or https://."
    elif len(link) > MAX_LINK:
        errors["link"] = f"That link is longer than {MAX_LINK} characters."
    files_error = _files_problem(files, ctx.org.activities.max_file_bytes, ctx.org.activities.max_file_mb)
    if files_error:
        errors["files"] = files_error
    if "number" in values and parse_number(values["number"]) is None:
        errors["number"] = "Give a number, e.g. 42 or 97.5."
    if "decision" in values and values["decision"] not in ("approved", "declined"):
        errors["decision"] = "Choose whether you approve."
    if "number" not in values and "decision" not in values and not (text or link or files):
        errors["text"] = "Nothing to submit: say what was done, add a link or attach a file."
    errors.update(_period_problems(ctx, values.get("covers_from", ""), values.get("covers_to", "")))
    return errors


def validate_reason(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    reason = values.get("reason", "").strip()
    if not reason:
        return {"reason": "Please say why it does not apply; the ISMS manager and auditors will read it."}
    if len(reason) > MAX_REASON:
        return {"reason": f"Please keep it under {MAX_REASON} characters."}
    return {}


def validate_delegation(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    if find_person(ctx.org, values.get("person", "")) is None:
        return {"person": "Pick somebody listed in the organisation file; the bot cannot chase anybody else."}
    if len(values.get("note", "")) > MAX_REASON:
        return {"note": f"Please keep the note under {MAX_REASON} characters."}
    return {}


def validate_acceptance(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    if len(values.get("comment", "")) > MAX_REASON:
        return {"comment": f"Please keep it under {MAX_REASON} characters."}
    return {}


def validate_rejection(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    errors = validate_acceptance(ctx, values)
    if not values.get("comment", "").strip():
        errors["comment"] = "Tell the owner what is missing or wrong, so they can fix it."
    due = parse_date(values.get("due", ""))
    today = ctx.clock().astimezone(ctx.org.zone).date()
    if due is None:
        errors["due"] = "Give the new due date as YYYY-MM-DD."
    elif due <= today:
        errors["due"] = "The new due date must be after today."
    elif due > today + timedelta(days=366):
        errors["due"] = "The new due date must be within a year."
    return errors


def _period_problems(ctx: Context, start_text: str, end_text: str) -> dict[str, str]:
    start, end = parse_date(start_text), parse_date(end_text)
    today = ctx.clock().astimezone(ctx.org.zone).date()
    if start is None:
        return {"covers_from": "Give the first day the evidence covers as YYYY-MM-DD."}
    if end is None:
        return {"covers_to": "Give the last day the evidence covers as YYYY-MM-DD."}
    if end < start:
        return {"covers_to": "The end of the period cannot be before its start."}
    if end > today + timedelta(days=366) or start < today - timedelta(days=3660):
        return {"covers_from": "That period is not plausible; check the years."}
    return {}


def _files_problem(files: list[FileRef], max_bytes: int, max_mb: float) -> str | None:
    if len(files) > MAX_FILES:
        return f"At most {MAX_FILES} files, please."
    for file in files:
        if file.size is not None and file.size > max_bytes:
            name = file.name or file.id
            return f"{name} is {file.size / 1024 / 1024:.1f} MB; files may be at most {max_mb:g} MB."
    return None


# -- parsing -----------------------------------------------------------------------------------------


def is_web_link(link: str) -> bool:
    parts = urlsplit(link)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in link


def parse_number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_files(values: dict[str, str]) -> list[FileRef]:
    """File ids from the form (a JSON list from Slack; ids separated by spaces or commas when typed),
    with name and size from ``files:meta`` when the surface supplied them."""
    raw = values.get("files", "").strip()
    try:
        ids = json.loads(raw) if raw.startswith("[") else raw.replace(",", " ").split()
    except ValueError:
        ids = []
    try:
        meta = {item["id"]: item for item in json.loads(values.get(FILES_META) or "[]") if isinstance(item, dict)}
    except (ValueError, KeyError, TypeError):
        meta = {}
    files = []
    for file_id in ids:
        if not isinstance(file_id, str) or not file_id:
            continue
        info = meta.get(file_id, {})
        size = info.get("size")
        files.append(FileRef(file_id[:64], (info.get("name") or None), size if isinstance(size, int) else None))
    return files

"""The campaign form and its validation: pure and fast, because Slack validates a form before its
3-second ack, and ``flows.submit_campaign`` runs the same checks before it stores anything."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from workflows.awareness import audience
from workflows.awareness.lifecycle import CampaignKind
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context

NEW_FORM = "awareness.new"
LIMITS = {"title": 200, "link": 500, "text": 2000, "audience": audience.MAX_PEOPLE_TEXT, "version": 20}
KINDS = ((CampaignKind.TRAINING.value, "Training"), (CampaignKind.POLICY.value, "Policy acknowledgement"))
LINK = re.compile(r"^https?://[^\s<>|]+\.[^\s<>|]+$")
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")
MAX_REMINDERS = 5


@dataclass(frozen=True)
class CampaignInput:
    """A valid campaign as the form gives it."""

    kind: CampaignKind
    title: str
    link: str
    text: str
    version: str | None
    audience: str
    people: list[str]
    due_at: datetime
    remind_before: list[int]
    unmapped: tuple[str, ...] = ()
    """Channel members the organisation file does not list (told to the ISMS manager, not DMed)."""


def campaign_form(ctx: Context) -> Form:
    plan = ", ".join(str(days) for days in ctx.org.awareness.remind_before_days)
    return Form(
        NEW_FORM,
        "New campaign",
        (
            FormField("kind", "Kind", "select", options=KINDS, initial=CampaignKind.TRAINING.value),
            FormField("title", "Title", max_length=LIMITS["title"]),
            FormField("link", "Link to the material", "url", max_length=LIMITS["link"], hint="https://..."),
            FormField("text", "Text for the message", "multiline", required=False, max_length=LIMITS["text"]),
            FormField(
                "version",
                "Policy version",
                required=False,
                max_length=LIMITS["version"],
                hint="Only for a policy acknowledgement, e.g. 2.1",
            ),
            FormField("audience_kind", "Who", "select", options=audience.KINDS, initial="everyone"),
            FormField(
                "audience",
                "Which role, department, people, group or channel",
                required=False,
                max_length=LIMITS["audience"],
                hint="e.g. owner; Sales; alice, erin@example.org; a group id; #channel. Empty for everyone.",
            ),
            FormField("due", "Due date", "date"),
            FormField("reminders", "Reminders (days before the due date)", initial=plan, required=False),
        ),
        submit_label="Start",
        fallback="Type `/isms campaign new` again in a moment.",
    )


def read(
    ctx: Context, values: dict[str, str], now: datetime, *, quick: bool = False
) -> tuple[CampaignInput | None, dict[str, str]]:
    """The campaign the form describes, or ``{field: problem}`` (then nothing may be stored).

    ``quick`` (the check before Slack's ack) does not ask the directory or Slack for members."""
    errors: dict[str, str] = {}
    for name in ("title", "link", "text", "audience", "version"):
        errors |= check_text(values, name, LIMITS[name], required=name in ("title", "link"), what=f"the {name}")
    title = " ".join(values.get("title", "").split())
    link = values.get("link", "").strip()
    if "link" not in errors and not LINK.match(link):
        errors["link"] = "Give a web link starting with https:// (or http://), without spaces."
    kind_value = values.get("kind") or CampaignKind.TRAINING.value
    if kind_value not in dict(KINDS):
        errors["kind"] = "Pick training or policy acknowledgement."
    kind = CampaignKind(kind_value) if kind_value in dict(KINDS) else CampaignKind.TRAINING
    version = values.get("version", "").strip() or None
    if kind == CampaignKind.POLICY and version is None:
        errors["version"] = "A policy acknowledgement names the version people accept."
    elif version is not None and not VERSION.match(version):
        errors["version"] = "Letters, digits, dots and dashes only, e.g. 2.1."
    due_at, problem = _due(ctx, values.get("due", ""), now)
    if problem:
        errors["due"] = problem
    reminders, problem = _reminders(values.get("reminders", ""))
    if problem:
        errors["reminders"] = problem
    wanted = audience.spec(values.get("audience_kind") or "everyone", values.get("audience", ""))
    members = audience.Members([])
    if "audience" not in errors:
        try:
            if not quick and wanted.partition(":")[0] in audience.OUTSIDE:
                ctx.before_outside_read()  # Graph or Slack is asked: not while Slack waits for the ack
            with ctx.read() as session:
                if quick:
                    audience.check(ctx, session, wanted)
                else:
                    members = audience.resolve(ctx, session, wanted)
        except audience.AudienceError as error:
            errors["audience"] = str(error)
    if errors or due_at is None:
        return None, errors
    text = values.get("text", "").strip()
    return CampaignInput(
        kind, title, link, text, version, wanted, members.people, due_at, reminders, members.unmapped
    ), {}


def _due(ctx: Context, text: str, now: datetime) -> tuple[datetime | None, str]:
    """The due date at the programme's due time in the organisation's zone; not in the past."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None, "Give the due date as YYYY-MM-DD."
    due_at = datetime.combine(day, ctx.org.activities.due_time, tzinfo=ctx.org.zone)
    if due_at <= now:
        return None, "The due date has passed; pick a later one."
    if (due_at - now).days > 366:
        return None, "Pick a due date within a year."
    return due_at, ""


def _reminders(text: str) -> tuple[list[int], str]:
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        return [], "Write whole numbers of days separated by commas, e.g. 7, 1."
    days = sorted({int(part) for part in parts}, reverse=True)
    if len(days) > MAX_REMINDERS or any(day > 365 for day in days):
        return [], f"At most {MAX_REMINDERS} reminders, each at most 365 days before the due date."
    return days, ""

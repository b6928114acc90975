"""The forms of the internal audit and their validation: pure and fast, because Slack validates a form
before its 3-second ack. The rules of an audit plan are shared with the organisation file's programme
(``config.audit_settings.plan_problems``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from config.audit_settings import plan_problems
from config.organisation import Organisation
from workflows.audits.lifecycle import KIND_LABELS, NONCONFORMITIES
from workflows.kernel.people import find_person
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text

PLAN, FINDING, ACTION = "audit.plan", "audit.finding", "audit.corrective_action"
"""Form callback ids."""
LIMITS = {"title": 200, "criteria": 2000, "controls": 1000, "clause": 64, "text": 3000}
ACTION_LIMITS = {"root_cause": 2000, "corrective_action": 3000}
_SEPARATORS = re.compile(r"[,;\s]+")
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Plan:
    """An audit plan as the form gives it, checked."""

    title: str
    processes: tuple[str, ...]
    controls: tuple[str, ...]
    criteria: str
    auditors: tuple[str, ...]
    kickoff: date
    evidence_due: date
    report_due: date


def plan_form() -> Form:
    return Form(
        callback_id=PLAN,
        title="Plan an internal audit",
        fields=(
            FormField("title", "Title", max_length=LIMITS["title"]),
            FormField("processes", "Processes in scope", hint="Process ids, comma-separated: INC, CHG"),
            FormField("controls", "Controls in scope (optional)", required=False, hint="Control ids, comma-separated"),
            FormField("criteria", "Audit criteria", kind="multiline", max_length=LIMITS["criteria"]),
            FormField("auditors", "Auditors", hint="Names, e-mail addresses or person ids, comma-separated"),
            FormField("kickoff", "Kick-off", kind="date", hint="YYYY-MM-DD"),
            FormField("evidence_due", "Evidence due", kind="date", hint="YYYY-MM-DD"),
            FormField("report_due", "Report due", kind="date", hint="YYYY-MM-DD"),
        ),
        submit_label="Plan",
        fallback="Ask the ISMS manager to add the audit to the programme in the organisation file.",
    )


def _ids(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part for part in _SEPARATORS.split(text.strip()) if part))


def person_id(org: Organisation, value: str) -> str:
    """A person id from a Slack id (or a mention, ``<@U123|name>``), person id, e-mail or the name as the
    file writes it; else ``value``."""
    mention = _MENTION.fullmatch(value.strip())
    found = find_person(org, mention[1] if mention else value)
    if found is None:
        named = [p for p in org.people if p.name.casefold() == value.strip().casefold()]
        found = named[0] if len(named) == 1 else None
    return found.id if found else value.strip()


def _auditors(org: Organisation, text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(person_id(org, part) for part in text.split(",") if part.strip()))


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def read_plan(
    org: Organisation, processes: Sequence[str], values: dict[str, str], today: date
) -> tuple[Plan | None, dict[str, str]]:
    """The plan of the form, or the problems by field (nothing is stored with a problem)."""
    errors: dict[str, str] = {}
    for name in ("title", "criteria", "controls"):
        errors |= check_text(values, name, LIMITS[name], required=name != "controls")
    scope = tuple(p.upper() for p in _ids(values.get("processes", "")))
    auditors = _auditors(org, values.get("auditors", ""))
    kickoff, evidence_due, report_due = (_date(values.get(n, "")) for n in ("kickoff", "evidence_due", "report_due"))
    errors |= plan_problems(
        processes=scope,
        auditors=auditors,
        kickoff=kickoff,
        evidence_due=evidence_due,
        report_due=report_due,
        known_processes=processes,
        people={person.id for person in org.people},
        process_owners=org.process_owners,
        today=today,
    )
    if errors or kickoff is None or evidence_due is None or report_due is None:
        return None, errors
    plan = Plan(
        title=" ".join(values["title"].split()),
        processes=scope,
        controls=_ids(values.get("controls", "")),
        criteria=values["criteria"].strip(),
        auditors=auditors,
        kickoff=kickoff,
        evidence_due=evidence_due,
        report_due=report_due,
    )
    return plan, {}


KIND_OPTIONS = tuple(KIND_LABELS.items())


def finding_form(audits: Sequence[tuple[str, str]], chosen: str | None = None) -> Form:
    """``audits``: (reference, title) of the audits in progress this auditor may record findings on."""
    return Form(
        callback_id=FINDING,
        title="Record a finding",
        fields=(
            FormField(
                "audit",
                "Audit",
                kind="select",
                options=tuple((ref, f"{ref} {title}"[:75]) for ref, title in audits),
                initial=chosen,
            ),
            FormField("kind", "Kind", kind="select", options=KIND_OPTIONS),
            FormField("clause", "Clause or control", max_length=LIMITS["clause"], hint="e.g. 9.2 or A.5.15"),
            FormField("text", "Finding", kind="multiline", max_length=LIMITS["text"]),
            FormField(
                "root_cause",
                "Root cause (required for a nonconformity)",
                kind="multiline",
                required=False,
                max_length=ACTION_LIMITS["root_cause"],
            ),
            FormField(
                "corrective_action",
                "Corrective action (required for a nonconformity)",
                kind="multiline",
                required=False,
                max_length=ACTION_LIMITS["corrective_action"],
                hint="Becomes a request for change; the finding closes when that change is verified.",
            ),
        ),
        submit_label="Record",
        fallback="Type /isms finding again in a moment.",
    )


def validate_finding(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not values.get("audit", "").strip():
        errors["audit"] = "Please choose the audit."
    kind = values.get("kind", "")
    if kind not in KIND_LABELS:
        errors["kind"] = "Please choose the kind of finding."
    errors |= check_text(values, "clause", LIMITS["clause"], what="the clause or control")
    if "\n" in values.get("clause", "").strip():
        errors.setdefault("clause", "The clause or control must be one line.")
    errors |= check_text(values, "text", LIMITS["text"], what="the finding")
    needed = kind in NONCONFORMITIES
    errors |= check_text(values, "root_cause", ACTION_LIMITS["root_cause"], required=needed, what="the root cause")
    errors |= check_text(
        values,
        "corrective_action",
        ACTION_LIMITS["corrective_action"],
        required=needed,
        what="the corrective action",
    )
    return errors


def action_form(ref: str, root_cause: str) -> Form:
    """A new corrective action for ``ref`` (the root cause as recorded, to keep or correct)."""
    return Form(
        callback_id=ACTION,
        title="New corrective action",
        fields=(
            FormField(
                "root_cause", "Root cause", kind="multiline", max_length=ACTION_LIMITS["root_cause"], initial=root_cause
            ),
            FormField(
                "corrective_action",
                "Corrective action",
                kind="multiline",
                max_length=ACTION_LIMITS["corrective_action"],
                hint="Becomes a request for change; the finding closes when that change is verified.",
            ),
        ),
        submit_label="Request",
        metadata=ref,
    )


def validate_action(values: dict[str, str]) -> dict[str, str]:
    return check_text(values, "root_cause", ACTION_LIMITS["root_cause"], what="the root cause") | check_text(
        values, "corrective_action", ACTION_LIMITS["corrective_action"], what="the corrective action"
    )

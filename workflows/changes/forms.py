"""The forms of change management and their validation: pure and fast, because Slack validates a
form before its 3-second ack, and ``request_change`` runs the same checks for callers in code."""

from __future__ import annotations

from collections.abc import Collection

from config.change_settings import PRIORITIES
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text
from workflows.registers.elements import SOURCE

# Action and form callback ids: each button opens the form of the same id, except VERIFY, which acts at once.
REQUEST, RISK, APPROVE, DECLINE, VERIFY, FAIL = (
    "change.request",
    "change.risk",
    "change.approve",
    "change.decline",
    "change.verify",
    "change.fail",
)
LIMITS = {
    "title": 200,
    "description": 3000,
    "reason": 2000,
    "element": 200,
    "plan": 3000,
    "fallback": 2000,
    "result": 2000,
    "comment": 2000,
}
DECISION_LIMIT = 1000
PRIORITY_OPTIONS = (("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical"))
YES_NO = (("no", "No"), ("yes", "Yes"))
RATING = tuple(
    (str(n), f"{n} ({word})") for n, word in ((1, "very low"), (2, "low"), (3, "medium"), (4, "high"), (5, "very high"))
)
CHAT_ORIGIN = ("CHG", "chat")


def check_fields(values: dict[str, str], required: tuple[str, ...]) -> dict[str, str]:
    """Field errors for a change's free text, each field with its own limit from ``LIMITS``."""
    errors: dict[str, str] = {}
    for name in values:
        errors |= check_text(values, name, LIMITS[name], required=name in required)
    return errors


def check_request(
    *,
    title: str,
    description: str,
    reason: str,
    element: str = "",
    plan: str = "",
    fallback: str = "",
    priority: str = "medium",
) -> dict[str, str]:
    errors = check_fields(
        {
            "title": title,
            "description": description,
            "reason": reason,
            "element": element,
            "plan": plan,
            "fallback": fallback,
        },
        ("title", "description", "reason"),
    )
    if "\n" in title.strip():
        errors.setdefault("title", "The title must be one line.")
    if priority not in PRIORITIES:
        errors["priority"] = f"Priority must be one of {', '.join(PRIORITIES)}."
    return errors


def check_origin(processes: Collection[str], origin: tuple[str, str]) -> dict[str, str]:
    """The requesting process must be one of the catalogue's ``processes`` and name its own reference."""
    process, ref = origin
    if process not in processes:
        return {"origin": f"Unknown process {process!r}: the origin must be a process of the catalogue."}
    if not ref.strip() or len(ref) > 64:
        return {"origin": "The origin needs the reference of the request there (up to 64 characters)."}
    return {}


def request_form(origin: tuple[str, str]) -> Form:
    """``origin`` lets another process (an incident's button) open the form for itself."""
    return Form(
        REQUEST,
        "Request a change",
        (
            FormField("title", "Title", max_length=LIMITS["title"]),
            FormField("description", "What should change", "multiline", max_length=LIMITS["description"]),
            FormField("reason", "Why", "multiline", max_length=LIMITS["reason"]),
            FormField(
                "element",
                "Affected element (from the registers)",
                "search",
                required=False,
                source=SOURCE,
                hint="Type an id or words of its title, e.g. AS-003 or customer database; its owner verifies",
            ),
            FormField(
                "element_other",
                "Other element, not in a register",
                required=False,
                max_length=150,
                hint="e.g. the access control policy or the onboarding process; leave empty if you picked one above",
            ),
            FormField("plan", "Implementation plan", "multiline", required=False, max_length=LIMITS["plan"]),
            FormField(
                "fallback",
                "Fall-back plan",
                "multiline",
                required=False,
                max_length=LIMITS["fallback"],
                hint="How to go back if the change does not work",
            ),
            FormField("priority", "Priority", "select", options=PRIORITY_OPTIONS, initial="medium"),
            FormField("significant", "Significant (needs a risk evaluation)?", "select", options=YES_NO, initial="no"),
        ),
        submit_label="Request",
        metadata=f"{origin[0]}:{origin[1]}",
        fallback="Type `/isms change` again in a moment.",
    )


def validate_request(processes: Collection[str], values: dict[str, str], metadata: str) -> dict[str, str]:
    """The same checks ``request_change`` makes, worded for the form's fields."""
    errors = check_request(
        title=values.get("title", ""),
        description=values.get("description", ""),
        reason=values.get("reason", ""),
        element=other_element(values),
        plan=values.get("plan", ""),
        fallback=values.get("fallback", ""),
        priority=values.get("priority") or "medium",
    )
    if "element" in errors:  # check_request names the free text "element"
        errors["element_other"] = errors.pop("element")
    if values.get("element", "").strip() and values.get("element_other", "").strip():
        errors["element_other"] = "Pick an element from the registers or name another one, not both."
    if (values.get("significant") or "no") not in dict(YES_NO):
        errors["significant"] = "Answer yes or no."
    if "priority" in errors:
        errors["priority"] = "Pick one of the listed priorities."
    if origin(processes, metadata) is None:
        errors["title"] = "This form was opened for an unknown process; please open it again."
    return errors


def other_element(values: dict[str, str]) -> str:
    """The element named in free text, for what no register holds (a policy, a process, the scope)."""
    return " ".join(values.get("element_other", "").split())


def origin(processes: Collection[str], metadata: str) -> tuple[str, str] | None:
    """The (process, reference) the form was opened for, if that process exists."""
    process, _, ref = (metadata or ":".join(CHAT_ORIGIN)).partition(":")
    return (process, ref) if process in processes and ref else None


def risk_form(ref: str) -> Form:
    return Form(
        RISK,
        f"Risk of {ref}",
        (
            FormField("likelihood", "Likelihood", "select", options=RATING),
            FormField("impact", "Impact", "select", options=RATING),
            FormField("comment", "Comment", "multiline", required=False, max_length=LIMITS["comment"]),
        ),
        submit_label="Evaluate",
        metadata=ref,
    )


def validate_risk(values: dict[str, str]) -> dict[str, str]:
    errors = check_fields({"comment": values.get("comment", "")}, ())
    for name in ("likelihood", "impact"):
        if values.get(name) not in dict(RATING):
            errors[name] = "Pick a rating from 1 to 5."
    return errors


def decision_form(ref: str, *, approve: bool) -> Form:
    verb = "Approve" if approve else "Decline"
    return Form(
        APPROVE if approve else DECLINE,
        f"{verb} {ref}",
        (FormField("reason", f"Why do you {verb.lower()} it?", "multiline", max_length=DECISION_LIMIT),),
        submit_label=verb,
        metadata=ref,
    )


def validate_decision(values: dict[str, str]) -> dict[str, str]:
    return check_text(values, "reason", DECISION_LIMIT, what="the reason for your decision")


def fail_form(ref: str) -> Form:
    return Form(
        FAIL,
        f"Failed: {ref}",
        (FormField("result", "What is wrong?", "multiline", max_length=LIMITS["result"]),),
        submit_label="Report",
        metadata=ref,
    )


def validate_failure(values: dict[str, str]) -> dict[str, str]:
    return check_fields({"result": values.get("result", "")}, ("result",))

"""The risk owner's forms: re-rate, accept the residual risk, plan its treatment. Validation is pure
and fast (Slack checks a form before its 3-second ack) and says what to fix per field."""

from __future__ import annotations

from datetime import date, timedelta

from config.register_settings import RegisterSettings
from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text
from workflows.registers.messages import ACCEPT, PLAN, RERATE, REVIEWED

REASON_LIMIT = 1000
PLAN_LIMIT = 3000
MAX_ACTIONS = 10
AXES = ("likelihood", "impact", "residual_likelihood", "residual_impact")


def _scale(top: int) -> tuple[tuple[str, str], ...]:
    return tuple((str(n), str(n)) for n in range(1, top + 1))


def rerate_form(ref: str, settings: RegisterSettings, current: dict[str, int]) -> Form:
    """Likelihood and impact before and after treatment on the organisation's scale, pre-filled."""
    tops = {"likelihood": settings.likelihood_levels, "impact": settings.impact_levels}
    fields = tuple(
        FormField(
            axis,
            axis.replace("_", " ").capitalize(),
            "select",
            options=_scale(tops[axis.removeprefix("residual_")]),
            initial=str(current[axis]) if current.get(axis) else None,
        )
        for axis in AXES
    )
    return Form(
        RERATE,
        f"Re-rate {ref}",
        (*fields, FormField("reason", "Why the rating changes", "multiline", max_length=REASON_LIMIT)),
        submit_label="Re-rate",
        metadata=ref,
        fallback="Ask the ISMS manager to change the rating in the risk register file.",
    )


def validate_rerate(values: dict[str, str], settings: RegisterSettings) -> dict[str, str]:
    errors = check_text(values, "reason", REASON_LIMIT, what="the reason")
    for axis in AXES:
        top = getattr(settings, f"{axis.removeprefix('residual_')}_levels")
        value = values.get(axis, "")
        if not value.isdigit() or not 1 <= int(value) <= top:
            errors[axis] = f"Pick a value from 1 to {top}."
    return errors


def accept_form(ref: str, settings: RegisterSettings, today: date) -> Form:
    return Form(
        ACCEPT,
        f"Accept risk {ref}",
        (
            FormField("reason", "Why the organisation carries this risk", "multiline", max_length=REASON_LIMIT),
            FormField(
                "until",
                "Accepted until",
                "date",
                initial=(today + timedelta(days=min(180, settings.acceptance_max_days))).isoformat(),
                hint=f"At most {settings.acceptance_max_days} days ahead; you are asked again then.",
            ),
        ),
        submit_label="Accept",
        metadata=ref,
    )


def validate_accept(values: dict[str, str], settings: RegisterSettings, today: date) -> dict[str, str]:
    errors = check_text(values, "reason", REASON_LIMIT, what="the reason")
    try:
        until = date.fromisoformat(values.get("until", "").strip())
    except ValueError:
        return errors | {"until": "Pick the date the acceptance ends (YYYY-MM-DD)."}
    if until <= today:
        errors["until"] = "The acceptance must end after today."
    elif until > today + timedelta(days=settings.acceptance_max_days):
        errors["until"] = f"At most {settings.acceptance_max_days} days ahead, please."
    return errors


def plan_form(ref: str) -> Form:
    return Form(
        PLAN,
        f"Treat risk {ref}",
        (
            FormField(
                "actions",
                "Actions, one per line",
                "multiline",
                max_length=PLAN_LIMIT,
                hint=f"Each line becomes a request for change (at most {MAX_ACTIONS}).",
            ),
        ),
        submit_label="Plan",
        metadata=ref,
    )


def plan_actions(values: dict[str, str]) -> list[str]:
    return [" ".join(line.split()) for line in values.get("actions", "").splitlines() if line.strip()]


def validate_plan(values: dict[str, str]) -> dict[str, str]:
    errors = check_text(values, "actions", PLAN_LIMIT, what="at least one action")
    actions = plan_actions(values)
    if not errors and len(actions) > MAX_ACTIONS:
        errors["actions"] = f"At most {MAX_ACTIONS} actions, one per line (this has {len(actions)})."
    if not errors and any(len(action) > 200 for action in actions):
        errors["actions"] = "Each action is the title of a request for change: at most 200 characters a line."
    return errors


def review_form(ref: str, today: date) -> Form:
    return Form(
        REVIEWED,
        f"Review of supplier {ref}",
        (
            FormField("reviewed_on", "Reviewed on", "date", initial=today.isoformat()),
            FormField("findings", "What the review found", "multiline", required=False, max_length=REASON_LIMIT),
        ),
        submit_label="Record",
        metadata=ref,
    )


def validate_review(values: dict[str, str], today: date) -> dict[str, str]:
    errors = check_text(values, "findings", REASON_LIMIT, required=False)
    try:
        reviewed = date.fromisoformat(values.get("reviewed_on", "").strip())
    except ValueError:
        return errors | {"reviewed_on": "Pick the day of the review (YYYY-MM-DD)."}
    if reviewed > today:
        errors["reviewed_on"] = "A review cannot be recorded for a day still to come."
    return errors

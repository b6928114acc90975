"""Input rules of the improvement register: a suggestion's text and a decline's reason."""

from __future__ import annotations

from workflows.kernel.ui import Form, FormField
from workflows.kernel.validation import check_text

DECLINE = "improvement.decline"
"""The decline button and its form (the reason the author is told)."""
SUGGESTION_LIMIT = 2000
REASON_LIMIT = 1000


def check_suggestion(text: str) -> str | None:
    """What is wrong with a suggestion's text, or None."""
    problem = check_text({"text": text}, "text", SUGGESTION_LIMIT, what="your suggestion")
    if problem and not text.strip():
        return "Please write your suggestion after the command: /isms suggest <what could be better>"
    return problem.get("text")


def decline_form(ref: str) -> Form:
    return Form(
        callback_id=DECLINE,
        title=f"Decline {ref}",
        fields=(FormField("reason", "Reason (the author is told)", kind="multiline", max_length=REASON_LIMIT),),
        submit_label="Decline",
        metadata=ref,
    )


def validate_decline(values: dict[str, str]) -> dict[str, str]:
    return check_text(values, "reason", REASON_LIMIT, what="the reason")

"""What people see of management reviews, built from rows and packs: the invitation, the pack's
summary, the decisions, the list. Nothing here writes; flows.py queues these messages."""

from __future__ import annotations

from collections.abc import Sequence

from config.organisation import Organisation
from storage.models.reviews import Review, ReviewAction
from workflows.kernel.paging import Window, page_message
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.ui import Button, Message
from workflows.review.forms import DECIDE
from workflows.review.lifecycle import STATE_LABELS
from workflows.review.pack import Pack, Rendered

MORE, LIST = "review.more", "reviews"


def _when(org: Organisation, review: Review) -> str:
    return when(review.starts_at, org.zone)


def _who(org: Organisation, review: Review) -> tuple[tuple[str, str], ...]:
    fields = [
        ("When", f"{_when(org, review)}, {int((review.ends_at - review.starts_at).total_seconds() // 60)} min"),
        ("Chair", person_name(org, review.chair)),
        ("Attendees", ", ".join(person_name(org, person) for person in review.people)),
    ]
    if review.location:
        fields.append(("Where", review.location))
    return tuple(fields)


def invitation(org: Organisation, review: Review, *, moved: bool = False) -> Message:
    """The invitation (or the news that it moved), saying when the input pack comes: its own due time,
    because a review called or moved at short notice gets its pack at once, and a review whose pack
    was already sent keeps that pack."""
    pack = "The input pack (every input of ISO/IEC 27001 clause 9.3)"
    if review.pack_due_at is not None:
        pack = f"{pack} comes {when(review.pack_due_at, org.zone)}."
    else:
        pack = f"{pack} was already sent to you; it stays as it was."
    return Message(
        text=f"{'Moved' if moved else 'You are invited'}: {review.title} {review.ref}, {_when(org, review)}",
        body=(
            f"{pack} With Microsoft 365 the invitation is in your calendar; otherwise the ISMS manager sends "
            f"the .ics file (isms-bot review {review.ref} --format ics)."
        ),
        fields=_who(org, review),
    )


def cancelled(org: Organisation, review: Review, reason: str) -> Message:
    return Message(
        text=f"Cancelled: {review.title} {review.ref}, {_when(org, review)}",
        body=f"Reason: {reason}",
        fields=_who(org, review),
    )


def pack_ready(org: Organisation, review: Review, pack: Pack, rendered: Rendered, *, decides: bool) -> Message:
    """The pack's summary for one attendee: one line per input, with or without data."""
    lines = [
        f"{'•' if item.has_data else '○'} {item.title}: "
        + (item.lines[0] if item.lines else f"{len(item.table.rows)} rows" if item.table else "")
        if item.has_data
        else f"○ {item.title}: {item.empty}"
        for item in pack.inputs
    ]
    buttons = (Button(DECIDE, "Record decisions", review.ref, "primary"),) if decides else ()
    return Message(
        text=f"Input pack for {review.title} {review.ref} ({_when(org, review)})",
        body="\n".join(lines),
        fields=(("Inputs with data", f"{sum(i.has_data for i in pack.inputs)} of {len(pack.inputs)}"),),
        buttons=buttons,
        footer=f"The whole pack: isms-bot review {review.ref} --format html (or md, SHA-256 {rendered.sha256})",
    )


def decided(org: Organisation, review: Review, actions: Sequence[ReviewAction]) -> Message:
    lines = [
        f"{action.number}. {action.text} ({person_name(org, action.owner)}, due {action.due.isoformat()}): "
        f"{action.change_ref}"
        for action in actions
    ]
    return Message(
        text=f"Decisions of {review.title} {review.ref} are recorded",
        body="\n".join([review.decisions or "", *lines]).strip(),
        fields=(("Actions", str(len(actions))),),
    )


def decisions_due(org: Organisation, review: Review) -> Message:
    """The App Home item of a review that took place and waits for its decisions."""
    return Message(
        text=f"{review.title} {review.ref} took place {_when(org, review)}: record what it decided",
        buttons=(Button(DECIDE, "Record decisions", review.ref, "primary"),),
    )


def action_finished(review_ref: str, action: ReviewAction, state: str) -> Message:
    return Message(text=f"Action {action.number} of {review_ref} ({action.text}) is finished: {state}.")


def review_line(org: Organisation, review: Review, actions: int) -> str:
    return f"{review.ref} {_when(org, review)}: {review.title}, {STATE_LABELS.get(review.state, review.state)}" + (
        f", {plural(actions, 'action')}" if actions else ""
    )


def review_list(lines: list[str], by_state: dict[str, int], page: Window) -> Message:
    if not page.total:
        return Message(text="No management reviews yet. /isms review new calls one.")
    counts = tuple((STATE_LABELS.get(state, state).capitalize(), str(count)) for state, count in by_state.items())
    return page_message(
        title=plural(page.total, "management review"), lines=lines, page=page, more=MORE, name=LIST, counts=counts
    )

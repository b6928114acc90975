"""What people see of the improvement register. Nothing here writes; flows.py queues these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from config.organisation import Organisation
from storage.models.improvement import Improvement
from workflows.improvement.forms import DECLINE
from workflows.improvement.lifecycle import ImprovementState
from workflows.kernel.paging import Window, page_message
from workflows.kernel.people import person_name, plural
from workflows.kernel.ui import Button, Message

ACCEPT, MORE = "improvement.accept", "improvement.more"
REGISTER = "register"
"""The name of the ``/isms improvements`` list (the "More" button's value)."""
STATE_LABELS: dict[str, str] = {
    ImprovementState.OPEN: "Open",
    ImprovementState.ACCEPTED: "Accepted",
    ImprovementState.DECLINED: "Declined",
    ImprovementState.DONE: "Done",
    ImprovementState.NOT_DONE: "Not done",
}


def _source(item: Improvement) -> str:
    return f"{item.source} {item.source_ref}" if item.source_ref else "chat"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def decision_request(org: Organisation, item: Improvement) -> Message:
    return Message(
        text=f"Improvement {item.ref} waits for your decision: {_a(item.kind)} from {person_name(org, item.author)}",
        body=item.text,
        fields=(("Reference", item.ref), ("From", _source(item))),
        buttons=(
            Button(ACCEPT, "Accept (request a change)", item.ref, "primary"),
            Button(DECLINE, "Decline", item.ref, "danger"),
        ),
    )


def thanks(item: Improvement) -> Message:
    return Message(
        text=f"Thank you: your suggestion {item.ref} is recorded.",
        body="The ISMS manager decides on it; you will be told either way.",
    )


def accepted(item: Improvement) -> Message:
    return Message(
        text=f"Your suggestion {item.ref} was accepted: it is change {item.change_ref}.",
        body=item.text,
    )


def declined(item: Improvement, by: str) -> Message:
    return Message(
        text=f"Your suggestion {item.ref} was declined.",
        body=item.text,
        fields=(("Reason", item.reason or ""), ("Decided by", by)),
    )


def decided(item: Improvement, verdict: str, by: str) -> Message:
    """Replaces the decision request in every decider's chat, so nobody decides twice."""
    return Message(text=f"Improvement {item.ref} was {verdict} by {by}.", body=item.text)


def finished(item: Improvement) -> Message:
    word = "done" if item.state == ImprovementState.DONE else "not done"
    return Message(text=f"Your suggestion {item.ref} is {word}: change {item.change_ref} ended.", body=item.text)


def line(org: Organisation, item: Improvement) -> str:
    change = f" · change {item.change_ref}" if item.change_ref else ""
    return (
        f"{item.ref} {STATE_LABELS.get(item.state, item.state)} · {item.kind} from {_source(item)} "
        f"by {person_name(org, item.author)}{change} · {item.text}"
    )


def register(lines: Sequence[str], by_state: Mapping[str, int], page: Window, *, mine_only: bool) -> Message:
    title = "Your improvement suggestions" if mine_only else "Improvement register"
    return page_message(
        title=f"{title}: {plural(page.total, 'item')}",
        lines=lines,
        page=page,
        more=MORE,
        name=REGISTER,
        counts=tuple((STATE_LABELS[s], str(by_state.get(s, 0))) for s in ImprovementState),
        note="" if page.total else "Nothing yet. Anyone can suggest an improvement with /isms suggest <text>.",
    )

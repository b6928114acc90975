"""What people see of a change, built from its row: the questions with their buttons, the notices to
the requester and the lines of lists. Nothing here writes; flows.py queues these messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from config.organisation import Organisation
from storage.models.changes import Change
from workflows.changes.forms import APPROVE, DECLINE, FAIL, RISK, VERIFY
from workflows.changes.lifecycle import APPROVERS, ChangeState
from workflows.kernel.duties import deciders
from workflows.kernel.paging import Window, page_message
from workflows.kernel.people import person_name, plural, when
from workflows.kernel.ui import Button, Message
from workflows.performance.periods import Period

MORE = "change.more"
OPEN_LIST = "open"
ALL_LIST = "all"
"""The "More" button of ``/isms changes`` and the name of its list."""


@dataclass(frozen=True)
class ChangeView:
    """A change as lists show it, detached from the session."""

    ref: str
    title: str
    state: str
    priority: str
    tracker_key: str | None


STATE_LABELS: dict[str, str] = {
    ChangeState.RISK: "Waiting for risk evaluation",
    ChangeState.AWAITING: "Waiting for approval",
    ChangeState.APPROVED: "Approved",
    ChangeState.DECLINED: "Declined",
    ChangeState.IN_IMPLEMENTATION: "In implementation",
    ChangeState.IMPLEMENTED: "Implemented, waiting for verification",
    ChangeState.VERIFIED: "Verified",
    ChangeState.FAILED: "Failed",
}
"""A change's state as lists show it, like the incidents' status labels."""


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def origin_of(change: Change) -> str:
    """Where the request came from: "chat", "INC-2026-0001" (the reference names its process), "AUD 7"."""
    if change.origin_process == "CHG":
        return "chat"
    if change.origin_ref.upper().startswith(change.origin_process.upper() + "-"):
        return change.origin_ref
    return f"{change.origin_process} {change.origin_ref}"


def summary(org: Organisation, change: Change) -> tuple[tuple[str, str], ...]:
    fields = [
        ("Reference", change.ref),
        ("Priority", change.priority),
        ("Requested by", person_name(org, change.requester)),
        ("Origin", origin_of(change)),
    ]
    if change.element:
        fields.append(("Affected", change.element))
    return tuple(fields)


def body(change: Change) -> str:
    parts = [change.description, f"Why: {change.reason}"]
    if change.plan:
        parts.append(f"Plan: {change.plan}")
    if change.fallback:
        parts.append(f"Fall-back: {change.fallback}")
    if change.risk_likelihood is not None:
        parts.append(
            f"Risk: likelihood {change.risk_likelihood}/5, impact {change.risk_impact}/5. "
            f"{change.risk_comment or ''}".strip()
        )
    return "\n".join(parts)


def risk_buttons(change: Change) -> tuple[Button, ...]:
    return (Button(RISK, "Evaluate risk", change.ref, "primary"),)


def decision_buttons(change: Change) -> tuple[Button, ...]:
    return (Button(APPROVE, "Approve", change.ref, "primary"), Button(DECLINE, "Decline", change.ref, "danger"))


def verification_buttons(change: Change) -> tuple[Button, ...]:
    return (Button(VERIFY, "It works", change.ref, "primary"), Button(FAIL, "It does not work", change.ref, "danger"))


def risk_request(org: Organisation, change: Change) -> Message:
    return Message(
        text=f"Please evaluate the risk of change {change.ref}: {change.title}",
        body=body(change),
        fields=summary(org, change),
        buttons=risk_buttons(change),
    )


def approval_request(org: Organisation, change: Change) -> Message:
    return Message(
        text=f"Change {change.ref} waits for your decision: {change.title}",
        body=body(change),
        fields=summary(org, change),
        buttons=decision_buttons(change),
    )


def decided(change: Change, verdict: str, approver: str) -> Message:
    """Replaces the approval request in every approver's DM."""
    return Message(
        text=f"Change {change.ref} was {verdict} by {approver}: {change.title}",
        body=f"Reason: {change.decision_reason}",
    )


def verification_question(org: Organisation, change: Change) -> Message:
    return Message(
        text=f"Change {change.ref} is implemented ({change.tracker_key}). Does it work as intended?",
        body=f"{change.title}\n{change.result or ''}".strip(),
        fields=summary(org, change),
        buttons=verification_buttons(change),
    )


def recorded(change: Change, next_step: str) -> Message:
    return Message(text=f"Your request for change {change.ref} is recorded: {change.title}", body=f"Next: {next_step}")


def next_risk_evaluation(org: Organisation, risk_owner: str) -> str:
    return f"risk evaluation by {person_name(org, risk_owner)}, then approval."


def next_approval(org: Organisation, requester: str) -> str:
    """Who approves next: the ISMS manager, or the second reviewer when the ISMS manager asked for it."""
    asked = deciders(org, APPROVERS, requester)
    if asked and asked[0] == org.second_reviewer:
        return f"approval by {person_name(org, asked[0])} (second reviewer)."
    return "approval by the ISMS manager."


def approved(change: Change) -> Message:
    if change.tracker_key:
        return Message(text=f"Change {change.ref} is approved and in implementation ({change.tracker_key}).")
    return Message(
        text=f"Change {change.ref} is approved. Its tracker issue is queued; "
        "you will get its key as soon as the tracker has it."
    )


def linked(change: Change, url: str) -> Message:
    return Message(text=f"Change {change.ref} now has tracker issue {change.tracker_key}.", body=url)


def tracker_queued(change: Change) -> Message:
    return Message(
        text=f"The tracker is not reachable right now, so the issue for {change.ref} "
        "is queued. It will be opened when the tracker is back; nothing "
        "else is needed from you."
    )


CLOSED = {
    ChangeState.VERIFIED: "is done: verified",
    ChangeState.FAILED: "failed",
    ChangeState.DECLINED: "was declined",
}


def closed(change: Change) -> Message:
    return Message(
        text=f"Change {change.ref} {CLOSED[ChangeState(change.state)]}. {change.title}", body=change.result or ""
    )


def home_item(change: Change) -> Message:
    """A change waiting for the person looking at the App Home, with the buttons of their step."""
    if change.state == ChangeState.AWAITING:
        return Message(
            text=f"Change {change.ref} waits for your decision: {change.title}", buttons=decision_buttons(change)
        )
    if change.state == ChangeState.RISK:
        return Message(
            text=f"Change {change.ref} waits for your risk evaluation: {change.title}", buttons=risk_buttons(change)
        )
    return Message(
        text=f"Change {change.ref} is implemented: does it work? {change.title}", buttons=verification_buttons(change)
    )


def change_list(changes: list[ChangeView], by_state: Mapping[str, int], page: Window, *, mine_only: bool) -> Message:
    """One page of open changes, with the counts by state first and a "More" button when more follow."""
    if not page.total:
        return Message(text="You have no open changes." if mine_only else "There are no open changes.")
    lines = [
        f"{c.ref} {state_label(c.state)}: {c.title} ({c.tracker_key or 'no tracker issue yet'}, {c.priority} priority)"
        for c in changes
    ]
    heading = plural(page.total, "open change") + (" you requested" if mine_only else "")
    return page_message(
        title=heading,
        counts=_counts(by_state),
        lines=lines,
        page=page,
        more=MORE,
        name=OPEN_LIST,
    )


def all_changes_list(
    zone: ZoneInfo,
    changes: Sequence[tuple[str, str, str, str | None, datetime, datetime | None]],
    by_state: Mapping[str, int],
    page: Window,
    period: Period | None,
    *,
    mine_only: bool,
) -> Message:
    """One page of ``/isms changes all [PERIOD]``: counts by state, then changes newest first with
    when they were requested and closed."""
    during = ""
    if period is not None:
        during = f" {period.label}" if period.label.startswith("since") else f" in {period.label}"
        during = during if mine_only else " requested" + during
    whose = " you requested" if mine_only else ""
    if not page.total:
        return Message(text=f"No changes{whose}{during}.")
    lines = [
        f"{ref} {state_label(state)} · {key or 'no tracker issue'} · requested {when(created, zone)}"
        + (f" · closed {when(closed, zone)}" if closed else "")
        + f" · {title}"
        for ref, title, state, key, created, closed in changes
    ]
    return page_message(
        title=f"{plural(page.total, 'change')}{whose}{during}, open and closed",
        counts=_counts(by_state),
        lines=lines,
        page=page,
        more=MORE,
        name=f"{ALL_LIST} {period.label}" if period else ALL_LIST,
        footer="Newest first.",
    )


def _counts(by_state: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
    """Counts by state in the lifecycle's order, each under its readable label."""
    order = {state.value: index for index, state in enumerate(ChangeState)}
    ordered = sorted(by_state.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    return tuple((state_label(state), f"{count:,}") for state, count in ordered)

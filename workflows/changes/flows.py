"""Change management (CHG) and the verification of implemented changes (IMP).

Every request for change, from chat or from another process (an incident, an audit finding, a
management review action), goes through ``request_change`` and becomes one change with a gap-free
reference. Its lifecycle, each step a record:

    requested -> risk-evaluation (only when significant; the RA owner rates it)
              -> awaiting-approval -> approved | declined (ISMS manager, with a reason)
              -> in-implementation (the tracker issue exists) -> implemented (issue resolved)
              -> verified | failed (the requester confirms in chat that it works)

Resolving the tracker issue does not close the change: IMP's "verify implementation" asks a person.
A closed change (verified, failed, declined) is reported to the process that asked through the
``change-finished`` interface; every state change is also published as ``change-status``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.change_settings import PRIORITIES
from storage.counters import next_number
from storage.models.changes import Change
from workflows.changes import tracker as change_tracker
from workflows.changes.tracker import TrackerUpdate
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Button, Message
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context, Work

RISK, AWAITING, APPROVED, DECLINED = "risk-evaluation", "awaiting-approval", "approved", "declined"
IN_IMPLEMENTATION, IMPLEMENTED, VERIFIED, FAILED = "in-implementation", "implemented", "verified", "failed"
APPROVER_ROLE = "isms_manager"

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


class ChangeInputError(ValueError):
    """The request cannot be recorded as given; ``errors`` maps each field to what to fix."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


class ChangeStateError(Exception):
    """The step does not fit the change's current state (already decided, not implemented yet...).

    The message is safe to show to the person who tried.
    """


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


def _check_origin(work: Work, origin: tuple[str, str]) -> dict[str, str]:
    process, ref = origin
    if process not in work.ctx.catalogue.ids:
        return {"origin": f"Unknown process {process!r}: the origin must be a process of the catalogue."}
    if not ref.strip() or len(ref) > 64:
        return {"origin": "The origin needs the reference of the request there (up to 64 characters)."}
    return {}


def request_change(
    work: Work,
    *,
    title: str,
    description: str,
    reason: str,
    origin: tuple[str, str],
    element: str = "",
    plan: str = "",
    fallback: str = "",
    priority: str = "medium",
    significant: bool = False,
) -> str:
    """Record a request for change from any process, in the caller's unit of work; returns its reference.

    ``origin`` is (process id, reference there), e.g. ("INC", "INC-2026-0003"); that process is told
    when the change ends. Raises ChangeInputError (nothing stored) when a field is missing or too long.
    """
    errors = check_request(
        title=title,
        description=description,
        reason=reason,
        element=element,
        plan=plan,
        fallback=fallback,
        priority=priority,
    ) | _check_origin(work, origin)
    if errors:
        raise ChangeInputError(errors)
    year = work.now.astimezone(work.ctx.org.zone).year
    ref = f"CHG-{year}-{next_number(work.session, f'CHG-{year}'):04d}"
    requester, requester_to = _requester(work, origin[0])
    change = Change(
        ref=ref,
        title=" ".join(title.split()),
        description=description.strip(),
        reason=reason.strip(),
        origin_process=origin[0],
        origin_ref=origin[1],
        element=element.strip(),
        plan=plan.strip(),
        fallback=fallback.strip(),
        priority=priority,
        significant=significant,
        state=AWAITING,
        requester=requester,
        requester_to=str(requester_to),
        verifier=requester,
        created_at=work.now,
        updated_at=work.now,
    )
    work.session.add(change)
    work.session.flush()
    work.record(
        "CHG",
        "requested",
        ("change", ref),
        {
            "title": change.title,
            "description": change.description,
            "reason": change.reason,
            "origin": {"process": origin[0], "ref": origin[1]},
            "element": change.element,
            "plan": change.plan,
            "fallback": change.fallback,
            "priority": priority,
            "significant": significant,
        },
    )
    next_step = _ask_risk_owner(work, change) if significant else _ask_approvers(work, change)
    work.notify(
        requester_to,
        Message(
            text=f"Your request for change {ref} is recorded: {change.title}",
            body=f"Next: {next_step}",
        ),
        f"chg:{ref}:requested",
    )
    if work.ctx.org.changes.create_on == "created":
        change_tracker.queue_issue(work, change)
    return ref


def _requester(work: Work, origin_process: str) -> tuple[str, Recipient]:
    """Who asked and where to reach them; for scheduled work, the owner of the requesting process."""
    if work.actor.id != "system":
        return work.actor.id, work.actor.recipient
    owners = work.ctx.org.process_owners
    person = owners.get(origin_process) or owners.get("CHG") or work.ctx.org.with_role(APPROVER_ROLE)[0].id
    return person, Recipient.person(person)


def risk_owner(work: Work) -> str:
    """The RA process owner evaluates change risks; without one, the first ISMS manager does."""
    return work.ctx.org.process_owners.get("RA") or work.ctx.org.with_role(APPROVER_ROLE)[0].id


def name_of(work: Work, actor_id: str) -> str:
    person = work.ctx.org.person(actor_id)
    return person.name if person else actor_id


def origin_of(change: Change) -> str:
    return "chat" if change.origin_process == "CHG" else f"{change.origin_process} {change.origin_ref}"


def _summary(work: Work, change: Change) -> tuple[tuple[str, str], ...]:
    fields = [
        ("Reference", change.ref),
        ("Priority", change.priority),
        ("Requested by", name_of(work, change.requester)),
        ("Origin", origin_of(change)),
    ]
    if change.element:
        fields.append(("Affected", change.element))
    return tuple(fields)


def _body(change: Change) -> str:
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


def _ask_risk_owner(work: Work, change: Change) -> str:
    owner = risk_owner(work)
    change.state = RISK
    change.risk_owner = owner
    work.record("RA", "change-risk-requested", ("change", change.ref), {"risk_owner": owner})
    work.notify(
        Recipient.person(owner),
        Message(
            text=f"Please evaluate the risk of change {change.ref}: {change.title}",
            body=_body(change),
            fields=_summary(work, change),
            buttons=(Button("chg.risk", "Evaluate risk", change.ref, "primary"),),
        ),
        f"chg:{change.ref}:risk-request",
    )
    return f"risk evaluation by {name_of(work, owner)}, then approval."


def _ask_approvers(work: Work, change: Change) -> str:
    change.state = AWAITING
    for person in work.ctx.org.with_role(APPROVER_ROLE):
        work.notify(
            Recipient.person(person.id),
            Message(
                text=f"Change {change.ref} waits for your decision: {change.title}",
                body=_body(change),
                fields=_summary(work, change),
                buttons=(
                    Button("chg.approve", "Approve", change.ref, "primary"),
                    Button("chg.decline", "Decline", change.ref, "danger"),
                ),
            ),
            f"chg:{change.ref}:approval:{person.id}",
        )
    return "approval by the ISMS manager."


def find(work: Work, ref: str) -> Change:
    change = work.session.scalar(select(Change).where(Change.ref == ref.strip().upper()).with_for_update())
    if change is None:
        raise ChangeStateError(f"There is no change {ref}.")
    return change


def evaluate_risk(work: Work, change: Change, *, likelihood: int, impact: int, comment: str) -> None:
    """The risk owner's rating (1-5 each) of a significant change; then it goes to approval."""
    if change.state != RISK:
        raise ChangeStateError(f"{change.ref} is not waiting for a risk evaluation (it is {change.state}).")
    change.risk_likelihood, change.risk_impact, change.risk_comment = likelihood, impact, comment.strip()
    data = {"likelihood": likelihood, "impact": impact, "score": likelihood * impact, "comment": change.risk_comment}
    work.record("RA", "change-risk-evaluated", ("change", change.ref), data)
    work.record("CHG", "risk-evaluated", ("change", change.ref), data)
    _ask_approvers(work, change)
    _touch(work, change)


def decide(work: Work, change: Change, *, approve: bool, reason: str) -> None:
    """The approver's decision with its reason. Approval opens the tracker issue (``create_on: approved``)."""
    if change.state != AWAITING:
        raise ChangeStateError(f"{change.ref} is not waiting for a decision (it is {change.state}).")
    change.decided_by, change.decision_reason = work.actor.id, reason.strip()
    verdict = "approved" if approve else "declined"
    work.record("CHG", verdict, ("change", change.ref), {"reason": change.decision_reason})
    for person in work.ctx.org.with_role(APPROVER_ROLE):
        work.notify(
            Recipient.person(person.id),
            Message(
                text=f"Change {change.ref} was {verdict} by {work.actor.name}: {change.title}",
                body=f"Reason: {change.decision_reason}",
            ),
            f"chg:{change.ref}:decided:{person.id}",
            replaces=f"chg:{change.ref}:approval:{person.id}",
        )
    if not approve:
        change.result = f"Declined: {change.decision_reason}"
        if change.tracker_key:
            change_tracker.queue_comment(
                work, change, "declined", f"Declined by {work.actor.name}: {change.decision_reason}"
            )
        _finish(work, change, DECLINED)
        return
    if change.tracker_key:
        change_tracker.queue_comment(
            work, change, "approved", f"Approved by {work.actor.name}: {change.decision_reason}"
        )
        change.state = IN_IMPLEMENTATION
        work.record("IMP", "implementation-started", ("change", change.ref), {"tracker_key": change.tracker_key})
        _tell_requester(
            work, change, "approved", f"Change {change.ref} is approved and in implementation ({change.tracker_key})."
        )
        _touch(work, change)
        if change.tracker_status:
            _apply_status(work, change)
        return
    change.state = APPROVED
    change_tracker.queue_issue(work, change)
    _tell_requester(
        work,
        change,
        "approved",
        f"Change {change.ref} is approved. Its tracker issue is queued; "
        "you will get its key as soon as the tracker has it.",
    )
    _touch(work, change)


def link_tracker(work: Work, ref: str, key: str, *, tracker: str, url: str = "") -> None:
    """The tracker opened (or, on a retry, found) the change's issue. Safe to call twice."""
    change = find(work, ref)
    if change.tracker_key == key:
        return
    change.tracker, change.tracker_key = tracker, key
    work.record("CHG", "tracker-linked", ("change", ref), {"tracker": tracker, "key": key, "url": url})
    if change.state == APPROVED:
        change.state = IN_IMPLEMENTATION
        work.record("IMP", "implementation-started", ("change", ref), {"tracker_key": key})
    _tell_requester(work, change, "linked", f"Change {ref} now has tracker issue {key}.", url)
    _touch(work, change)


def tracker_key_of(ctx: Context, ref: str) -> str | None:
    with ctx.read() as session:
        return session.scalar(select(Change.tracker_key).where(Change.ref == ref))


def tracker_delayed(work: Work, ref: str, reason: str) -> None:
    """The tracker did not take the issue yet: tell the requester once that it is queued, not lost."""
    change = find(work, ref)
    _tell_requester(
        work,
        change,
        "queued",
        f"The tracker is not reachable right now, so the issue for {ref} "
        "is queued. It will be opened when the tracker is back; nothing "
        "else is needed from you.",
    )
    work.record("CHG", "tracker-delayed", ("change", ref), {"reason": reason[:300]})


def apply_tracker_update(work: Work, update: TrackerUpdate) -> bool:
    """Apply what the tracker says about an issue, once: an update not newer than the last one applied
    (a webhook delivered twice or out of order, a poll re-reading) changes nothing. Returns True if applied.
    """
    change = work.session.scalar(select(Change).where(Change.tracker_key == update.key).with_for_update())
    if change is None or (change.tracker_updated is not None and update.updated <= change.tracker_updated):
        return False
    change.tracker_status, change.tracker_updated = update.status, update.updated
    change.tracker_resolution = update.resolution
    if update.resolution or update.comment:
        change.result = _tracker_result(update)
    work.record(
        "CHG",
        "tracker-updated",
        ("change", change.ref),
        {
            "key": update.key,
            "status": update.status,
            "resolution": update.resolution,
            "comment": update.comment,
            "author": update.author,
            "updated": update.updated.isoformat(),
        },
    )
    if change.state == IN_IMPLEMENTATION:
        _apply_status(work, change)
    return True


def _tracker_result(update: TrackerUpdate) -> str:
    parts = [f"Resolution: {update.resolution}" if update.resolution else "", update.comment or ""]
    return "\n".join(part for part in parts if part)[: LIMITS["result"]]


def _apply_status(work: Work, change: Change) -> None:
    """Move an in-implementation change by the status mapping of the organisation file."""
    settings = work.ctx.org.changes
    target = settings.statuses.get(change.tracker_status or "")
    if target == "implemented" and change.tracker_resolution in settings.failed_resolutions:
        target = "failed"
    if target == "implemented":
        change.state = IMPLEMENTED
        work.record(
            "IMP", "implemented", ("change", change.ref), {"tracker_key": change.tracker_key, "result": change.result}
        )
        _ask_verifier(work, change)
        _touch(work, change)
    elif target == "failed":
        work.record("IMP", "implementation-failed", ("change", change.ref), {"result": change.result})
        _finish(work, change, FAILED)


def _verifier_target(work: Work, change: Change) -> Recipient:
    return (
        Recipient.person(change.verifier)
        if change.verifier and work.ctx.org.person(change.verifier)
        else Recipient.parse(change.requester_to)
    )


def may_verify(actor: Actor, change: Change) -> bool:
    """The requester (or the owner asked to verify) and the ISMS manager may confirm a result."""
    return actor.id == change.verifier or actor.has(APPROVER_ROLE)


def _ask_verifier(work: Work, change: Change) -> None:
    work.record("IMP", "verification-requested", ("change", change.ref), {"verifier": change.verifier})
    work.notify(
        _verifier_target(work, change),
        Message(
            text=f"Change {change.ref} is implemented ({change.tracker_key}). Does it work as intended?",
            body=f"{change.title}\n{change.result or ''}".strip(),
            fields=_summary(work, change),
            buttons=(
                Button("chg.verify", "It works", change.ref, "primary"),
                Button("chg.fail", "It does not work", change.ref, "danger"),
            ),
        ),
        f"chg:{change.ref}:verify",
    )


def verify(work: Work, change: Change, *, works: bool, result: str) -> None:
    """IMP "verify implementation": the requester (or the ISMS manager) confirms or rejects the result."""
    if change.state != IMPLEMENTED:
        raise ChangeStateError(f"{change.ref} is not waiting for verification (it is {change.state}).")
    if not may_verify(work.actor, change):
        raise ChangeStateError(f"Only the requester of {change.ref} or the ISMS manager can verify it.")
    outcome = VERIFIED if works else FAILED
    note = result.strip() or ("Works as intended." if works else "")
    verdict = f"Verified by {work.actor.name}: {note}" if works else f"Failed verification ({work.actor.name}): {note}"
    change.result = "\n".join(filter(None, (change.result, verdict)))[: LIMITS["result"]]
    work.record("IMP", "verified" if works else "verification-failed", ("change", change.ref), {"result": note})
    if change.tracker_key:
        change_tracker.queue_comment(work, change, outcome, verdict)
    _finish(work, change, outcome)


def _finish(work: Work, change: Change, state: str) -> None:
    """Close the change, tell the requester, and report to the process that asked."""
    change.state = state
    change.closed_at = work.now
    work.record("CHG", "closed", ("change", change.ref), {"state": state, "result": change.result})
    wording = {VERIFIED: "is done: verified", FAILED: "failed", DECLINED: "was declined"}[state]
    _tell_requester(work, change, "closed", f"Change {change.ref} {wording}. {change.title}", change.result or "")
    _touch(work, change, finished=True)


def _touch(work: Work, change: Change, *, finished: bool = False) -> None:
    """Stamp the change and publish its state to the requesting process (not to CHG itself)."""
    change.updated_at = work.now
    if change.origin_process == "CHG":
        return
    data = {"change": change.ref, "state": change.state, "result": change.result, "jira_key": change.tracker_key}
    publish(work, Interface("CHG", change.origin_process, "change-status", change.origin_ref, data))
    if finished:
        publish(work, Interface("CHG", change.origin_process, "change-finished", change.origin_ref, data))


def _tell_requester(work: Work, change: Change, event: str, text: str, body: str = "") -> None:
    work.notify(Recipient.parse(change.requester_to), Message(text=text, body=body), f"chg:{change.ref}:{event}")


@dataclass(frozen=True)
class ChangeView:
    """A change as lists show it, detached from the session."""

    ref: str
    title: str
    state: str
    priority: str
    tracker_key: str | None


def open_changes(session: Session, *, requester: str | None = None) -> list[ChangeView]:
    """Changes not closed yet, oldest first; only ``requester``'s when given."""
    query = select(Change).where(Change.closed_at.is_(None)).order_by(Change.id)
    if requester is not None:
        query = query.where(Change.requester == requester)
    return [ChangeView(c.ref, c.title, c.state, c.priority, c.tracker_key) for c in session.scalars(query)]

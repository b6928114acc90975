"""Change management (CHG) and the verification of implemented changes (IMP): every step of a change.

Every request for change, from chat or from another process (an incident, an audit finding, a
management review action), goes through ``request_change`` and becomes one change with a gap-free
reference. A person's step (rate the risk, approve or decline, confirm that it works or report that
it does not) runs through ``run_step``; the tracker's answers (the issue is open, its status moved)
come in through ``link_tracker`` and ``apply_tracker_update``. The states are in lifecycle.py.

Resolving the tracker issue does not close the change: IMP's "verify implementation" asks a person.
A closed change (verified, failed, declined) is reported to the process that asked through the
``change-finished`` interface; every state change is also published as ``change-status``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.counters import next_number
from storage.models.changes import Change
from workflows.changes import forms, messages, tracker
from workflows.changes.forms import CHAT_ORIGIN, LIMITS
from workflows.changes.lifecycle import (
    APPROVERS,
    LIFECYCLE,
    TO_DECIDE,
    TO_RATE,
    TO_VERIFY,
    ChangeState,
    load_change,
    no_change,
    risk_owner_of,
    verifiers_of,
)
from workflows.changes.service import find_change
from workflows.changes.tracker import TrackerUpdate
from workflows.kernel.access import EVERYONE, Allowed, Refused, require
from workflows.kernel.actors import SYSTEM, Actor
from workflows.kernel.duties import deciders, deciding
from workflows.kernel.interfaces import Interface, publish
from workflows.kernel.people import with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context, Work
from workflows.registers import elements
from workflows.registers.service import owner_of_element

DECIDING = "deciding on changes"


class ChangeInputError(ValueError):
    """The request cannot be recorded as given; ``errors`` maps each field to what to fix.

    Raised to callers in other processes, which turn the field errors into their own answer.
    """

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def _rating(ref: str) -> str:
    return f"the risk evaluation of {ref}"


def _verification(ref: str) -> str:
    return f"the verification of {ref}"


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
    tell_requester: bool = True,
) -> str:
    """Record a request for change from any process, in the caller's unit of work; returns its reference.

    ``tell_requester=False`` when the caller answers the requester itself (the chat form's reply), so
    the requester gets one message about the request, not two.

    ``origin`` is (process id, reference there), e.g. ("INC", "INC-2026-0003"); that process is told
    when the change ends. Raises ChangeInputError (nothing stored) when a field is missing or too long.
    """
    errors = forms.check_request(
        title=title,
        description=description,
        reason=reason,
        element=element,
        plan=plan,
        fallback=fallback,
        priority=priority,
    ) | forms.check_origin(work.ctx.catalogue.ids, origin)
    if errors:
        raise ChangeInputError(errors)
    year = work.now.astimezone(work.ctx.org.zone).year
    ref = f"CHG-{year}-{next_number(work.session, f'CHG-{year}'):04d}"
    requester, requester_to = _requester(work, origin[0])
    owner = risk_owner(work) if significant else None
    element_owner = owner_of_element(work.session, element)
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
        state=ChangeState.RISK if significant else ChangeState.AWAITING,
        requester=requester,
        requester_to=str(requester_to),
        verifier=element_owner or requester,
        risk_owner=owner,
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
    if element_owner is not None:  # the owner of the register item it changes verifies it
        work.record("IMP", "verifier-chosen", ("change", ref), {"verifier": element_owner, "element": change.element})
    next_step = _ask_risk_owner(work, change, owner) if owner else _ask_approvers(work, change)
    if tell_requester:
        work.notify(requester_to, messages.recorded(change, next_step), f"chg:{ref}:requested")
    if work.ctx.org.changes.create_on == "created":
        tracker.queue_issue(work, change)
    return ref


def _requester(work: Work, origin_process: str) -> tuple[str, Recipient]:
    """Who asked and where to reach them; for scheduled work, the owner of the requesting process."""
    if work.actor.id != SYSTEM.id:
        return work.actor.id, work.actor.recipient
    owners = work.ctx.org.process_owners
    person = owners.get(origin_process) or owners.get("CHG") or with_role(work.ctx.org, *APPROVERS)[0]
    return person, Recipient.person(person)


def risk_owner(work: Work) -> str:
    """The RA process owner evaluates change risks; without one, the first ISMS manager does."""
    return work.ctx.org.process_owners.get("RA") or with_role(work.ctx.org, *APPROVERS)[0]


def _ask_risk_owner(work: Work, change: Change, owner: str) -> str:
    work.record("RA", "change-risk-requested", ("change", change.ref), {"risk_owner": owner})
    work.notify(Recipient.person(owner), messages.risk_request(work.ctx.org, change), f"chg:{change.ref}:risk-request")
    return messages.next_risk_evaluation(work.ctx.org, owner)


def _ask_approvers(work: Work, change: Change) -> str:
    """Ask the approvers, but never the requester to approve their own change (separation of duties)."""
    for person in deciders(work.ctx.org, APPROVERS, change.requester):
        work.notify(
            Recipient.person(person),
            messages.approval_request(work.ctx.org, change),
            f"chg:{change.ref}:approval:{person}",
        )
    return messages.next_approval(work.ctx.org, change.requester)


def submit_request(ctx: Context, actor: Actor, values: dict[str, str], metadata: str, key: str) -> Outcome:
    """Record the request of the form; the router validated it first, so input errors are bugs here."""
    require(ctx, actor, EVERYONE, process="CHG", what="requesting a change")
    origin = forms.origin(ctx.catalogue.ids, metadata) or CHAT_ORIGIN
    with ctx.work(actor) as work:
        element = _element(work.session, actor, values)
        if element is None:  # the item went away between the form's check and now
            return Outcome(errors={"element": "That element is not in the registers (any more)."})
        if not work.once(key):
            return Outcome.say("This request for change was already recorded.")
        ref = request_change(
            work,
            title=values.get("title", ""),
            description=values.get("description", ""),
            reason=values.get("reason", ""),
            origin=origin,
            element=element,
            plan=values.get("plan", ""),
            fallback=values.get("fallback", ""),
            priority=values.get("priority") or "medium",
            significant=values.get("significant") == "yes",
            tell_requester=False,
        )
        change = load_change(work.session, ref, False)
        assert change is not None  # recorded just now, in this unit of work
        owner = change.risk_owner
        next_step = (
            messages.next_risk_evaluation(ctx.org, owner) if owner else messages.next_approval(ctx.org, actor.id)
        )
        recorded = messages.recorded(change, next_step)
    return Outcome(reply=recorded)


def check_element(ctx: Context, actor: Actor, values: dict[str, str]) -> dict[str, str]:
    """The element picked on the form must still be in the registers (a value from an old form, or one
    made up, is refused on the field); one indexed read, fast enough for the form's 3-second check."""
    if not values.get("element", "").strip():
        return {}
    with ctx.read() as session:
        if _element(session, actor, values) is not None:
            return {}
    return {"element": "That element is not in the registers (any more); search for it again."}


def _element(session: Session, actor: Actor, values: dict[str, str]) -> str | None:
    """The change's element as stored: the picked register item by id and title, else the free text;
    None when the picked item does not exist."""
    value = values.get("element", "").strip()
    if not value:
        return forms.other_element(values)
    item = elements.picked(session, actor, value)
    return elements.element_text(item, LIMITS["element"]) if item is not None else None


def open_request_form(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, EVERYONE, process="CHG", what="requesting a change")
    return Outcome(form=forms.request_form(CHAT_ORIGIN))


def open_risk_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    change = find_change(ctx, ref)
    require(ctx, actor, risk_owner_of(change), process="CHG", what=_rating(change.ref), subject=("change", change.ref))
    return Outcome(form=forms.risk_form(change.ref))


def submit_risk(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """The risk owner's rating; then the change goes to approval."""

    def step(work: Work, change: Change) -> Outcome:
        evaluate_risk(
            work,
            change,
            likelihood=int(values["likelihood"]),
            impact=int(values["impact"]),
            comment=values.get("comment", ""),
        )
        return Outcome.say(f"Thank you: the risk of {change.ref} is recorded and the change goes to approval.")

    return run_step(
        ctx,
        actor,
        TO_RATE,
        ref,
        key=key,
        what=_rating(ref),
        allowed=risk_owner_of,
        step=step,
        to=ChangeState.AWAITING,
        again=Outcome.say(f"Your evaluation of {ref} was already recorded."),
    )


def evaluate_risk(work: Work, change: Change, *, likelihood: int, impact: int, comment: str) -> None:
    """The risk owner's rating (1-5 each) of a significant change; then it goes to approval."""
    change.risk_likelihood, change.risk_impact, change.risk_comment = likelihood, impact, comment.strip()
    data = {"likelihood": likelihood, "impact": impact, "score": likelihood * impact, "comment": change.risk_comment}
    work.record("RA", "change-risk-evaluated", ("change", change.ref), data)
    work.record("CHG", "risk-evaluated", ("change", change.ref), data)
    _move(change, ChangeState.AWAITING)
    _ask_approvers(work, change)
    _touch(work, change)


def open_decision_form(ctx: Context, actor: Actor, ref: str, *, approve: bool) -> Outcome:
    change = find_change(ctx, ref)
    require(ctx, actor, _deciding(ctx, actor, change), process="CHG", what=DECIDING, subject=("change", change.ref))
    return Outcome(form=forms.decision_form(change.ref, approve=approve))


def _deciding(ctx: Context, actor: Actor, change: Change) -> Allowed:
    """Who may decide on ``change``: the approvers and, where asked, the second reviewer; never the
    person who requested it (refused here, politely, and recorded)."""
    return deciding(
        ctx,
        actor,
        change.requester,
        APPROVERS,
        done="requested this change",
        process="CHG",
        what=DECIDING,
        subject=("change", change.ref),
    )


def submit_decision(ctx: Context, actor: Actor, ref: str, *, approve: bool, reason: str, key: str) -> Outcome:
    """Approve or decline with a reason. The decision picks the next state (declined, approved, or in
    implementation when the issue already exists), so the runner checks only that a decision is due."""

    def step(work: Work, change: Change) -> Outcome:
        decide(work, change, approve=approve, reason=reason)
        return Outcome.say(f"{change.ref} is {messages.state_label(change.state).lower()}.")

    return run_step(
        ctx,
        actor,
        TO_DECIDE,
        ref,
        key=key,
        what=DECIDING,
        allowed=lambda change: _deciding(ctx, actor, change),
        step=step,
        within={ChangeState.AWAITING},
        again=Outcome.say(f"Your decision on {ref} was already recorded."),
    )


def decide(work: Work, change: Change, *, approve: bool, reason: str) -> None:
    """The approver's decision with its reason. Approval opens the tracker issue (``create_on: approved``)."""
    change.decided_by, change.decision_reason = work.actor.id, reason.strip()
    verdict = "approved" if approve else "declined"
    work.record("CHG", verdict, ("change", change.ref), {"reason": change.decision_reason})
    for person in deciders(work.ctx.org, APPROVERS, change.requester):
        work.notify(
            Recipient.person(person),
            messages.decided(change, verdict, work.actor.name),
            f"chg:{change.ref}:decided:{person}",
            replaces=f"chg:{change.ref}:approval:{person}",
        )
    if change.tracker_key:
        comment = f"{verdict.capitalize()} by {work.actor.name}: {change.decision_reason}"
        tracker.queue_comment(work, change, verdict, comment)
    if not approve:
        change.result = f"Declined: {change.decision_reason}"
        _finish(work, change, ChangeState.DECLINED)
        return
    if change.tracker_key:
        _start_implementation(work, change)
    else:
        _move(change, ChangeState.APPROVED)
        tracker.queue_issue(work, change)
    _tell_requester(work, change, "approved", messages.approved(change))
    _touch(work, change)
    if change.state == ChangeState.IN_IMPLEMENTATION and change.tracker_status:
        _apply_status(work, change)


def confirm_works(ctx: Context, actor: Actor, ref: str, key: str) -> Outcome:
    """The "It works" button: the change is verified and closed."""
    return _verify(ctx, actor, ref, works=True, result="", key=key)


def open_fail_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    change = find_change(ctx, ref)
    require(
        ctx, actor, verifiers_of(change), process="CHG", what=_verification(change.ref), subject=("change", change.ref)
    )
    return Outcome(form=forms.fail_form(change.ref))


def report_failure(ctx: Context, actor: Actor, ref: str, result: str, key: str) -> Outcome:
    """The "It does not work" form: the change fails with what the person found."""
    return _verify(ctx, actor, ref, works=False, result=result, key=key)


def _verify(ctx: Context, actor: Actor, ref: str, *, works: bool, result: str, key: str) -> Outcome:
    def step(work: Work, change: Change) -> Outcome:
        verify(work, change, works=works, result=result)
        return Outcome.say(f"Thank you: {change.ref} is {messages.state_label(change.state).lower()}.")

    return run_step(
        ctx,
        actor,
        TO_VERIFY,
        ref,
        key=key,
        what=_verification(ref),
        allowed=verifiers_of,
        step=step,
        to=ChangeState.VERIFIED if works else ChangeState.FAILED,
        again=Outcome.say(f"Your answer on {ref} was already recorded."),
    )


def verify(work: Work, change: Change, *, works: bool, result: str) -> None:
    """IMP "verify implementation": the requester (or the ISMS manager) confirms or rejects the result."""
    outcome = ChangeState.VERIFIED if works else ChangeState.FAILED
    note = result.strip() or ("Works as intended." if works else "")
    verdict = f"Verified by {work.actor.name}: {note}" if works else f"Failed verification ({work.actor.name}): {note}"
    change.result = "\n".join(filter(None, (change.result, verdict)))[: LIMITS["result"]]
    work.record("IMP", "verified" if works else "verification-failed", ("change", change.ref), {"result": note})
    if change.tracker_key:
        tracker.queue_comment(work, change, outcome, verdict)
    _finish(work, change, outcome)


def find(work: Work, ref: str) -> Change:
    """The change under its row lock, for a step that is not a person's (the tracker's answers)."""
    change = load_change(work.session, ref, True)
    if change is None:
        raise Refused(no_change(ref))
    return change


def link_tracker(work: Work, ref: str, key: str, *, tracker: str, url: str = "") -> None:
    """The tracker opened (or, on a retry, found) the change's issue. Safe to call twice."""
    change = find(work, ref)
    if change.tracker_key == key:
        return
    change.tracker, change.tracker_key = tracker, key
    work.record("CHG", "tracker-linked", ("change", ref), {"tracker": tracker, "key": key, "url": url})
    if change.state == ChangeState.APPROVED:
        _start_implementation(work, change)
    _tell_requester(work, change, "linked", messages.linked(change, url))
    _touch(work, change)


def tracker_delayed(work: Work, ref: str, reason: str) -> None:
    """The tracker did not take the issue yet: tell the requester once that it is queued, not lost."""
    change = find(work, ref)
    _tell_requester(work, change, "queued", messages.tracker_queued(change))
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
    if change.state == ChangeState.IN_IMPLEMENTATION:
        _apply_status(work, change)
    return True


def _tracker_result(update: TrackerUpdate) -> str:
    parts = [update.resolution or "", update.comment or ""]  # "Done", not "Resolution: Done" after "Result:"
    return "\n".join(part for part in parts if part)[: LIMITS["result"]]


def _start_implementation(work: Work, change: Change) -> None:
    _move(change, ChangeState.IN_IMPLEMENTATION)
    work.record("IMP", "implementation-started", ("change", change.ref), {"tracker_key": change.tracker_key})


def _apply_status(work: Work, change: Change) -> None:
    """Move an in-implementation change by the status mapping of the organisation file."""
    settings = work.ctx.org.changes
    target = settings.statuses.get(change.tracker_status or "")
    if target == "implemented" and change.tracker_resolution in settings.failed_resolutions:
        target = "failed"
    if target == "implemented":
        _move(change, ChangeState.IMPLEMENTED)
        work.record(
            "IMP", "implemented", ("change", change.ref), {"tracker_key": change.tracker_key, "result": change.result}
        )
        _ask_verifier(work, change)
        _touch(work, change)
    elif target == "failed":
        work.record("IMP", "implementation-failed", ("change", change.ref), {"result": change.result})
        _finish(work, change, ChangeState.FAILED)


def _ask_verifier(work: Work, change: Change) -> None:
    work.record("IMP", "verification-requested", ("change", change.ref), {"verifier": change.verifier})
    to = (
        Recipient.person(change.verifier)
        if change.verifier and work.ctx.org.person(change.verifier)
        else Recipient.parse(change.requester_to)
    )
    work.notify(to, messages.verification_question(work.ctx.org, change), f"chg:{change.ref}:verify")


def _finish(work: Work, change: Change, state: ChangeState) -> None:
    """Close the change, tell the requester, and report to the process that asked."""
    _move(change, state)
    change.closed_at = work.now
    work.record("CHG", "closed", ("change", change.ref), {"state": state, "result": change.result})
    _tell_requester(work, change, "closed", messages.closed(change))
    _touch(work, change, finished=True)


def _move(change: Change, target: ChangeState) -> None:
    """Every state change of a change, by the transition table: a person's step was checked before
    it ran; a move the table does not allow here is a bug, so it fails the whole unit of work."""
    if not LIFECYCLE.allows(change.state, target):
        raise RuntimeError(f"{change.ref} cannot move from {change.state} to {target}")
    change.state = target


def _touch(work: Work, change: Change, *, finished: bool = False) -> None:
    """Stamp the change and publish its state to the requesting process (not to CHG itself)."""
    change.updated_at = work.now
    if change.origin_process == "CHG":
        return
    data = {"change": change.ref, "state": change.state, "result": change.result, "jira_key": change.tracker_key}
    publish(work, Interface("CHG", change.origin_process, "change-status", change.origin_ref, data))
    if finished:
        publish(work, Interface("CHG", change.origin_process, "change-finished", change.origin_ref, data))


def _tell_requester(work: Work, change: Change, event: str, message: Message) -> None:
    work.notify(Recipient.parse(change.requester_to), message, f"chg:{change.ref}:{event}")

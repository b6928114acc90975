"""Change requests in chat: the request form, the list of open changes, and the buttons of each step.

Each function takes plain arguments (who, what, the request's idempotency key) and returns an
Outcome, so Slack and the console share it. Role checks happen before the unit of work opens, so a
refusal stores nothing but its own record.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from storage.models.changes import Change
from workflows.changes.flows import (
    APPROVER_ROLE,
    AWAITING,
    IMPLEMENTED,
    LIMITS,
    RISK,
    ChangeStateError,
    check_fields,
    check_request,
    decide,
    evaluate_risk,
    find,
    may_verify,
    open_changes,
    request_change,
    verify,
)
from workflows.kernel.access import EVERYONE, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Button, Form, FormField, Message, Outcome
from workflows.kernel.validation import check_text
from workflows.kernel.work import Context

ELEMENT_TYPES = (
    ("control", "Control"),
    ("process", "Process"),
    ("policy", "Policy"),
    ("scope", "Scope"),
    ("asset", "Asset"),
)
PRIORITY_OPTIONS = (("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical"))
YES_NO = (("no", "No"), ("yes", "Yes"))
RATING = tuple(
    (str(n), f"{n} ({word})") for n, word in ((1, "very low"), (2, "low"), (3, "medium"), (4, "high"), (5, "very high"))
)
# Who sees every open change; everybody else sees the changes they asked for.
OVERSEERS = frozenset({"isms_manager", "security_team", "auditor", "management"})
REQUEST_FORM, RISK_FORM, APPROVE_FORM, DECLINE_FORM, FAIL_FORM = (
    "chg.request",
    "chg.risk",
    "chg.approve",
    "chg.decline",
    "chg.fail",
)


def change_form(ctx: Context, actor: Actor, origin: tuple[str, str] = ("CHG", "chat")) -> Outcome:
    """The request form; ``origin`` lets another process (an incident's button) open it for itself."""
    require(ctx, actor, EVERYONE, process="CHG", what="requesting a change")
    return Outcome(
        form=Form(
            REQUEST_FORM,
            "Request a change",
            (
                FormField("title", "Title", max_length=LIMITS["title"]),
                FormField("description", "What should change", "multiline", max_length=LIMITS["description"]),
                FormField("reason", "Why", "multiline", max_length=LIMITS["reason"]),
                FormField("element_type", "Affected ISMS element", "select", required=False, options=ELEMENT_TYPES),
                FormField(
                    "element",
                    "Name of that element",
                    required=False,
                    max_length=150,
                    hint="e.g. A.8.7 Protection against malware, or the access control policy",
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
                FormField(
                    "significant", "Significant (needs a risk evaluation)?", "select", options=YES_NO, initial="no"
                ),
            ),
            submit_label="Request",
            metadata=f"{origin[0]}:{origin[1]}",
        )
    )


def validate_change_form(ctx: Context, values: dict[str, str], metadata: str) -> dict[str, str]:
    """Pure and fast (runs before Slack's ack): the same checks ``request_change`` makes."""
    errors = check_request(
        title=values.get("title", ""),
        description=values.get("description", ""),
        reason=values.get("reason", ""),
        element=_element(values),
        plan=values.get("plan", ""),
        fallback=values.get("fallback", ""),
        priority=values.get("priority") or "medium",
    )
    if values.get("element_type") and values["element_type"] not in dict(ELEMENT_TYPES):
        errors["element_type"] = "Pick one of the listed element types."
    if values.get("element", "").strip() and not values.get("element_type"):
        errors["element_type"] = "Which kind of element is it?"
    if (values.get("significant") or "no") not in dict(YES_NO):
        errors["significant"] = "Answer yes or no."
    if "priority" in errors:
        errors["priority"] = "Pick one of the listed priorities."
    if _origin(ctx, metadata) is None:
        errors["title"] = "This form was opened for an unknown process; please open it again."
    return errors


def submit_change_form(ctx: Context, actor: Actor, values: dict[str, str], metadata: str, key: str) -> Outcome:
    """Record the request; the router has run ``validate_change_form`` first, so input errors are bugs here."""
    require(ctx, actor, EVERYONE, process="CHG", what="requesting a change")
    origin = _origin(ctx, metadata) or ("CHG", "chat")
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say("This request for change was already recorded.")
        ref = request_change(
            work,
            title=values.get("title", ""),
            description=values.get("description", ""),
            reason=values.get("reason", ""),
            origin=origin,
            element=_element(values),
            plan=values.get("plan", ""),
            fallback=values.get("fallback", ""),
            priority=values.get("priority") or "medium",
            significant=values.get("significant") == "yes",
        )
    return Outcome.say(f"Change {ref} is recorded. You will get a message at each step.")


def _element(values: dict[str, str]) -> str:
    name = " ".join(values.get("element", "").split())
    kind = values.get("element_type") or ""
    return f"{kind}: {name}" if kind and name else kind or name


def _origin(ctx: Context, metadata: str) -> tuple[str, str] | None:
    process, _, ref = (metadata or "CHG:chat").partition(":")
    return (process, ref) if process in ctx.catalogue.ids and ref else None


def list_changes(ctx: Context, actor: Actor) -> Outcome:
    """``/isms changes``: open changes with state and tracker key (all of them for overseers)."""
    require(ctx, actor, EVERYONE, process="CHG", what="listing changes")
    mine_only = not actor.has(*OVERSEERS)
    with ctx.read() as session:
        changes = open_changes(session, requester=actor.id if mine_only else None)
    if not changes:
        return Outcome.say("There are no open changes." if not mine_only else "You have no open changes.")
    lines = [f"{c.ref} [{c.state}] {c.tracker_key or 'no tracker issue yet'}, {c.priority}: {c.title}" for c in changes]
    heading = f"{len(changes)} open change(s)" + (" you requested" if mine_only else "")
    return Outcome(reply=Message(text=heading, body="\n".join(lines)))


def _load(ctx: Context, ref: str) -> Change:
    with ctx.read() as session:
        change = session.scalar(select(Change).where(Change.ref == ref.strip().upper()))
        if change is None:
            raise ChangeStateError(f"There is no change {ref}.")
        session.expunge(change)
        return change


def _refuse(ctx: Context, actor: Actor, what: str, ref: str, who: str) -> Refused:
    with ctx.work(actor) as work:
        work.record("CHG", "access-denied", ("change", ref), {"attempted": what, "roles": sorted(actor.roles)})
    return Refused(f"Sorry, {what} of {ref} is for {who} only. This attempt has been recorded.")


def risk_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    change = _load(ctx, ref)
    if actor.id != change.risk_owner:
        raise _refuse(ctx, actor, "the risk evaluation", change.ref, "its risk owner")
    return Outcome(
        form=Form(
            RISK_FORM,
            f"Risk of {change.ref}",
            (
                FormField("likelihood", "Likelihood", "select", options=RATING),
                FormField("impact", "Impact", "select", options=RATING),
                FormField("comment", "Comment", "multiline", required=False, max_length=LIMITS["comment"]),
            ),
            submit_label="Evaluate",
            metadata=change.ref,
        )
    )


def validate_risk(values: dict[str, str]) -> dict[str, str]:
    errors = check_fields({"comment": values.get("comment", "")}, ())
    for name in ("likelihood", "impact"):
        if values.get(name) not in dict(RATING):
            errors[name] = "Pick a rating from 1 to 5."
    return errors


def submit_risk(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    change = _load(ctx, ref)
    if actor.id != change.risk_owner:
        raise _refuse(ctx, actor, "the risk evaluation", change.ref, "its risk owner")
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say(f"Your evaluation of {change.ref} was already recorded.")
        evaluate_risk(
            work,
            find(work, ref),
            likelihood=int(values["likelihood"]),
            impact=int(values["impact"]),
            comment=values.get("comment", ""),
        )
    return Outcome.say(f"Thank you: the risk of {change.ref} is recorded and the change goes to approval.")


def decision_form(ctx: Context, actor: Actor, ref: str, *, approve: bool) -> Outcome:
    require(ctx, actor, {APPROVER_ROLE}, process="CHG", what="deciding on changes", subject=("change", ref))
    change = _load(ctx, ref)
    verb = "Approve" if approve else "Decline"
    return Outcome(
        form=Form(
            APPROVE_FORM if approve else DECLINE_FORM,
            f"{verb} {change.ref}",
            (FormField("reason", f"Why do you {verb.lower()} it?", "multiline", max_length=1000),),
            submit_label=verb,
            metadata=change.ref,
        )
    )


def validate_decision(values: dict[str, str]) -> dict[str, str]:
    return check_text(values, "reason", 1000, what="the reason for your decision")


def submit_decision(ctx: Context, actor: Actor, ref: str, *, approve: bool, reason: str, key: str) -> Outcome:
    require(ctx, actor, {APPROVER_ROLE}, process="CHG", what="deciding on changes", subject=("change", ref))
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say(f"Your decision on {ref} was already recorded.")
        change = find(work, ref)
        decide(work, change, approve=approve, reason=reason)
        ref, state = change.ref, change.state
    return Outcome.say(f"{ref} is {state}.")


def confirm_works(ctx: Context, actor: Actor, ref: str, key: str) -> Outcome:
    """The "It works" button: the change is verified and closed."""
    return _verify(ctx, actor, ref, works=True, result="", key=key)


def fail_form(ctx: Context, actor: Actor, ref: str) -> Outcome:
    change = _load(ctx, ref)
    _check_verifier(ctx, actor, change)
    return Outcome(
        form=Form(
            FAIL_FORM,
            f"Failed: {change.ref}",
            (FormField("result", "What is wrong?", "multiline", max_length=LIMITS["result"]),),
            submit_label="Report",
            metadata=change.ref,
        )
    )


def validate_failure(values: dict[str, str]) -> dict[str, str]:
    return check_fields({"result": values.get("result", "")}, ("result",))


def report_failure(ctx: Context, actor: Actor, ref: str, result: str, key: str) -> Outcome:
    return _verify(ctx, actor, ref, works=False, result=result, key=key)


def _check_verifier(ctx: Context, actor: Actor, change: Change) -> None:
    if not may_verify(actor, change):
        raise _refuse(ctx, actor, "the verification", change.ref, "its requester or the ISMS manager")


def _verify(ctx: Context, actor: Actor, ref: str, *, works: bool, result: str, key: str) -> Outcome:
    _check_verifier(ctx, actor, _load(ctx, ref))
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say(f"Your answer on {ref} was already recorded.")
        change = find(work, ref)
        verify(work, change, works=works, result=result)
        ref, state = change.ref, change.state
    return Outcome.say(f"Thank you: {ref} is {state}.")


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """What waits for this person in change management: decisions, risk ratings, verifications."""
    mine = or_(
        and_(Change.state == RISK, Change.risk_owner == actor.id),
        and_(Change.state == IMPLEMENTED, Change.verifier == actor.id),
    )
    if actor.has(APPROVER_ROLE):
        mine = or_(mine, Change.state == AWAITING)
    with ctx.read() as session:
        waiting = list(session.scalars(select(Change).where(mine).order_by(Change.id).limit(20)))
    items: list[Message] = []
    for change in waiting:
        if change.state == AWAITING:
            items.append(
                Message(
                    text=f"Change {change.ref} waits for your decision: {change.title}",
                    buttons=(
                        Button("chg.approve", "Approve", change.ref, "primary"),
                        Button("chg.decline", "Decline", change.ref, "danger"),
                    ),
                )
            )
        elif change.state == RISK:
            items.append(
                Message(
                    text=f"Change {change.ref} waits for your risk evaluation: {change.title}",
                    buttons=(Button("chg.risk", "Evaluate risk", change.ref, "primary"),),
                )
            )
        else:
            items.append(
                Message(
                    text=f"Change {change.ref} is implemented: does it work? {change.title}",
                    buttons=(
                        Button("chg.verify", "It works", change.ref, "primary"),
                        Button("chg.fail", "It does not work", change.ref, "danger"),
                    ),
                )
            )
    return items

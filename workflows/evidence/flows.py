"""Evidence requests, every person's step on one: the owner (or an ISMS manager on their behalf)
answers in place (submit, not applicable, delegate, snooze), and the ISMS manager accepts or rejects
what came in.

Each step runs through the kernel's step runner, so who may take it, the request's row lock and its
state (``lifecycle.py``) are checked inside the transaction that changes it: a second click, a Slack
retry or a button on an old message says what already happened instead of acting twice. Buttons that
only open a form check the same rule and state first, so nobody fills in a form that cannot be sent.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from storage.models.evidence import EvidenceRequest, EvidenceSubmission
from workflows.evidence.files import attach_files
from workflows.evidence.forms import (
    delegate_form,
    not_applicable_form,
    parse_date,
    parse_files,
    parse_number,
    review_form,
    submit_form,
)
from workflows.evidence.ladder import ladder, reschedule, schedule_after, zones_of
from workflows.evidence.lifecycle import (
    ANSWERABLE,
    MANAGERS,
    OPEN,
    REVIEWABLE,
    SUBMITTED,
    Decision,
    EvidenceStatus,
    answered,
    answerers,
    decided,
    items,
)
from workflows.evidence.messages import notice, review_notice
from workflows.evidence.service import find_request, find_submission
from workflows.kernel.access import Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.duties import deciders, deciding
from workflows.kernel.people import find_person, person_name, when
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.timezones import zone_for
from workflows.kernel.ui import Form, Outcome
from workflows.kernel.work import Context, Work
from workflows.outreach.mail import reach

ALREADY = Outcome.say("That was already handled (the click arrived twice).")
REVIEWING = "reviewing evidence"

Step = Callable[[Work, EvidenceRequest], Outcome]


def iso(moment: datetime) -> str:
    """Times in records are UTC, whatever zone they were computed in, so the same moment reads the same."""
    return moment.astimezone(UTC).isoformat()


# -- buttons that open forms -------------------------------------------------------------------------


def open_submit(ctx: Context, actor: Actor, value: str) -> Outcome:
    return _open_answer(ctx, actor, value, "answering", lambda request: submit_form(ctx, request))


def open_not_applicable(ctx: Context, actor: Actor, value: str) -> Outcome:
    return _open_answer(ctx, actor, value, "answering", not_applicable_form)


def open_delegate(ctx: Context, actor: Actor, value: str) -> Outcome:
    return _open_answer(ctx, actor, value, "delegating", delegate_form)


def _open_answer(ctx: Context, actor: Actor, value: str, verb: str, form: Callable[[EvidenceRequest], Form]) -> Outcome:
    request = find_request(ctx, value)
    what = f"{verb} {request.ref}"
    require(ctx, actor, answerers(request), process=request.process, what=what, subject=("evidence", request.ref))
    _still(ctx, request, ANSWERABLE)
    return Outcome(form=form(request))


def open_review(ctx: Context, actor: Actor, value: str, accept: bool) -> Outcome:
    """The Accept / Reject buttons: the form for a comment, unless somebody decided already."""
    request = find_request(ctx, value)
    submission = find_submission(ctx, request, value)
    require(
        ctx,
        actor,
        _reviewing(ctx, actor, request, submission),
        process=request.process,
        what=REVIEWING,
        subject=("evidence", request.ref),
    )
    if submission.decision is not None:
        raise Refused(decided(ctx, request, submission))
    _still(ctx, request, REVIEWABLE)
    return Outcome(form=review_form(ctx, request, submission.id, accept))


def _still(ctx: Context, request: EvidenceRequest, states: Collection[str]) -> None:
    """Refuse before a form opens when the request's state no longer allows the step it is for (the
    step checks again when the form is sent)."""
    if request.status not in states:
        with ctx.read() as session:
            raise Refused(answered(ctx, session, request))


# -- the owner's answers ------------------------------------------------------------------------------


def _answer(
    ctx: Context, actor: Actor, value: str, key: str, verb: str, step: Step, to: EvidenceStatus | None = None
) -> Outcome:
    """Run one of the owner's steps: an answer moves the request ``to`` submitted; delegating and
    snoozing keep it open."""
    request = find_request(ctx, value)
    return run_step(
        ctx,
        actor,
        items(ctx, request.process),
        request.ref,
        key=key,
        what=f"{verb} {request.ref}",
        allowed=answerers(request),
        step=step,
        to=to,
        within=ANSWERABLE if to is None else None,
        again=ALREADY,
    )


def submit(ctx: Context, actor: Actor, value: str, values: dict[str, str], key: str) -> Outcome:
    """Store the evidence (validated by forms.validate_submission) and ask for its review."""
    decision = values.get("decision")
    fields: dict[str, object] = {
        "text": values.get("text", "").strip() or None,
        "link": values.get("link", "").strip() or None,
        "number": parse_number(values["number"]) if values.get("number") else None,
        "approved": (decision == "approved") if decision else None,
        "covers_from": parse_date(values.get("covers_from", "")),
        "covers_to": parse_date(values.get("covers_to", "")),
    }
    return _hand_in(ctx, actor, value, key, fields, not_applicable=False, files=values)


def not_applicable(ctx: Context, actor: Actor, value: str, reason: str, key: str) -> Outcome:
    return _hand_in(ctx, actor, value, key, {"text": reason.strip()}, not_applicable=True, files={})


def _hand_in(
    ctx: Context,
    actor: Actor,
    value: str,
    key: str,
    fields: dict[str, object],
    *,
    not_applicable: bool,
    files: dict[str, str],
) -> Outcome:
    def step(work: Work, request: EvidenceRequest) -> Outcome:
        return _store_answer(work, request, fields, not_applicable, files)

    return _answer(ctx, actor, value, key, "answering", step, to=SUBMITTED)


def _store_answer(
    work: Work, request: EvidenceRequest, fields: dict[str, object], not_applicable: bool, files: dict[str, str]
) -> Outcome:
    submission = EvidenceSubmission(
        request_id=request.id,
        round=request.round,
        submitted_by=work.actor.id,
        submitted_at=work.now,
        not_applicable=not_applicable,
        **fields,
    )
    work.session.add(submission)
    work.session.flush()
    shown_files = attach_files(work, submission, parse_files(files))
    request.next_action_at = None
    if request.first_answer_at is None:  # the on-time rate counts the first answer of any round
        request.first_answer_at = work.now
    data = {
        "submission": submission.id,
        "not_applicable": not_applicable,
        "period": request.period,
        **{name: _plain(value) for name, value in fields.items() if value is not None},
    }
    if shown_files:
        data["files"] = shown_files
    work.record(request.process, "submitted", ("evidence", request.ref), data)
    reviewers = deciders(work.ctx.org, MANAGERS, submission.submitted_by)
    for manager in reviewers:
        zone = zone_for(work.session, work.ctx.org, manager)
        work.notify(
            Recipient.person(manager),
            review_notice(work.ctx, request, submission, shown_files, zone),
            f"evidence:{request.id}:sub{submission.id}:review:{manager}",
        )
    what = "Your not-applicable answer" if not_applicable else "Your evidence"
    return Outcome.say(f"Thank you. {what} for {request.ref} ({request.title}) is stored and {_asked(work, reviewers)}")


def _asked(work: Work, reviewers: list[str]) -> str:
    """Who reviews it: the ISMS manager, or the second reviewer when the ISMS manager handed it in."""
    second = work.ctx.org.second_reviewer
    if reviewers == [second]:
        return f"{person_name(work.ctx.org, second)} (second reviewer) has been asked to review it."
    if not reviewers:
        return "nobody else can review it yet: the organisation file can name a second reviewer (second_reviewer)."
    return "the ISMS manager has been asked to review it."


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def delegate(ctx: Context, actor: Actor, value: str, picked: str, note: str, key: str) -> Outcome:
    """Hand the request to somebody else: they own it now, are asked at once, and the previous owner knows."""
    person = find_person(ctx.org, picked)
    if person is None:
        raise Refused("Pick somebody listed in the organisation file.")

    def step(work: Work, request: EvidenceRequest) -> Outcome:
        if person.id == request.owner_id:
            raise Refused(f"{person.name} already owns {request.ref}.")
        previous = request.owner_id
        request.owner_id = person.id
        request.delegations += 1
        reschedule(ctx, work.session, request, work.now)
        work.record(
            request.process,
            "delegated",
            ("evidence", request.ref),
            {"from": previous, "to": person.id, "note": note.strip() or None},
        )
        base = f"evidence:{request.id}:d{request.delegations}"
        if request.step > 0:  # already asked: the new owner hears now, not at the next reminder
            zone = zone_for(work.session, ctx.org, person.id)
            reach(
                work,
                person.id,
                notice(ctx, request, "delegated_to_you", zone, buttons=True, actor=actor.name, note=note.strip()),
                f"{base}:to",
            )
        if actor.id != previous:
            zone = zone_for(work.session, ctx.org, previous)
            reach(
                work,
                previous,
                notice(ctx, request, "delegated_away", zone, actor=actor.name, new_owner=person.name),
                f"{base}:from",
            )
        return Outcome.say(f"{request.ref} ({request.title}) now belongs to {person.name}; they have been told.")

    return _answer(ctx, actor, value, key, "delegating", step)


def snooze(ctx: Context, actor: Actor, value: str, days: int, key: str) -> Outcome:
    """No reminders or escalation for a few days; the due date does not move."""
    if days not in ctx.org.activities.snooze_days:
        raise Refused("That snooze is not offered any more.")

    def step(work: Work, request: EvidenceRequest) -> Outcome:
        request.snoozed_until = work.now + timedelta(days=days)
        reschedule(ctx, work.session, request, work.now)
        work.record(
            request.process, "snoozed", ("evidence", request.ref), {"days": days, "until": iso(request.snoozed_until)}
        )
        zone = zone_for(work.session, ctx.org, actor.id) if actor.listed else ctx.org.zone
        return Outcome.say(snoozed(ctx, request, days, zone))

    return _answer(ctx, actor, value, key, "snoozing", step)


def snoozed(ctx: Context, request: EvidenceRequest, days: int, zone: ZoneInfo) -> str:
    """The answer to a snooze, naming the real next step of the ladder (it may come weeks after the
    snooze ends, or on the due date itself) rather than suggesting the snooze's end."""
    until = when(request.snoozed_until or request.due_at, zone)
    quiet = f"Snoozed {request.ref} for {days} day{'s' if days != 1 else ''}: no reminders until {until}."
    due = when(request.due_at, zone)
    next_at, steps = request.next_action_at, ladder(ctx.org.activities)
    if next_at is None or request.step >= len(steps):
        return f"{quiet} No more reminders are due; it is still due {due}."
    at = when(next_at, zone)
    on_due_date = next_at.astimezone(zone).date() == request.due_at.astimezone(zone).date()
    kind = steps[request.step].kind
    if kind == "ask":
        return f"{quiet} You will be asked {at}; it is due {due}."
    if kind == "remind" and on_due_date:
        return f"{quiet} The next reminder comes on the due date, {at}."
    if kind == "remind":
        return f"{quiet} The next reminder is {at}; it is due {due}."
    what = "escalated" if kind == "escalate" else "listed for management review"
    return f"{quiet} It is due {due}; if it is still open, it will be {what} {at}."


# -- the ISMS manager's review --------------------------------------------------------------------------


def decide(ctx: Context, actor: Actor, value: str, values: dict[str, str], key: str, accept: bool) -> Outcome:
    """Accept (closes the request) or reject (reopens it with a new due date and tells the owner why)."""
    request = find_request(ctx, value)
    submission = find_submission(ctx, request, value)
    comment = values.get("comment", "").strip()
    if not accept:
        to = OPEN
    elif submission.not_applicable:
        to = EvidenceStatus.NOT_APPLICABLE
    else:
        to = EvidenceStatus.ACCEPTED

    def step(work: Work, request: EvidenceRequest) -> Outcome:
        answer = work.session.get(EvidenceSubmission, submission.id, with_for_update=True, populate_existing=True)
        assert answer is not None, "submissions are never deleted"
        if answer.decision is not None:
            raise Refused(decided(ctx, request, answer))
        answer.decision = Decision.ACCEPTED if accept else Decision.REJECTED
        answer.decided_by, answer.decided_at, answer.comment = actor.id, work.now, comment or None
        zone = zone_for(work.session, ctx.org, request.owner_id)
        data = {"submission": answer.id, "comment": comment or None, "owner": request.owner_id}
        if accept:
            request.closed_at, request.next_action_at = work.now, None
            work.record(request.process, "accepted", ("evidence", request.ref), data)
        else:
            _reopen(work, request, values)
            work.record(
                request.process, "rejected", ("evidence", request.ref), {**data, "new_due": iso(request.due_at)}
            )
        message = notice(
            ctx,
            request,
            "accepted" if accept else "rejected",
            zone,
            buttons=not accept,
            comment=comment,
            reviewer=actor.name,
            not_applicable=answer.not_applicable,
        )
        reach(work, request.owner_id, message, f"evidence:{request.id}:sub{answer.id}:decision")
        verdict = "accepted" if accept else "rejected; the owner has been told why and asked again"
        return Outcome.say(f"{request.ref} ({request.title}) {verdict}.")

    return run_step(
        ctx,
        actor,
        items(ctx, request.process, reviewing=True),
        request.ref,
        key=key,
        what=REVIEWING,
        allowed=_reviewing(ctx, actor, request, submission),
        step=step,
        to=to,
        again=ALREADY,
    )


def _reviewing(ctx: Context, actor: Actor, request: EvidenceRequest, submission: EvidenceSubmission) -> Allowed:
    """Who may accept or reject a submission: the ISMS managers and, where asked, the second reviewer;
    never whoever handed it in (refused here, politely, and recorded)."""
    return deciding(
        ctx,
        actor,
        submission.submitted_by,
        MANAGERS,
        done="handed in this evidence",
        process=request.process,
        what=REVIEWING,
        subject=("evidence", request.ref),
    )


def _reopen(work: Work, request: EvidenceRequest, values: dict[str, str]) -> None:
    """A new round with a new due date. The rejection message is its ask, so the ladder goes on
    from the first step after the ask."""
    settings = work.ctx.org.activities
    due_day = parse_date(values.get("due", ""))
    assert due_day is not None, "validated by validate_rejection"
    request.due_at = datetime.combine(due_day, settings.due_time, tzinfo=work.ctx.org.zone)
    request.round += 1
    request.snoozed_until = request.listed_for_review_at = None
    request.asked_at = work.now
    schedule_after(work.ctx, request, 0, work.now, zones_of(work.ctx, work.session, [request]))

"""Evidence requests, the owner's side: answer in place (submit, not applicable, delegate, snooze),
and the list of one's own open requests.

Every answer is checked against the request's current state inside the transaction that changes it,
so a second click, a Slack retry or a button on an old message says what already happened instead of
acting twice. The recurring work (creating requests, the reminder ladder, collecting file hashes) is
registered with the scheduler's tick at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.evidence import EvidenceRequest, EvidenceSubmission
from workflows.evidence.activities import create_due_requests
from workflows.evidence.files import attach_files, collect_file_hashes
from workflows.evidence.forms import (
    delegate_form,
    find_person,
    not_applicable_form,
    parse_date,
    parse_files,
    parse_number,
    submit_form,
)
from workflows.evidence.ladder import advance_requests, reschedule
from workflows.evidence.messages import notice, owner_buttons, person_name, review_buttons, when
from workflows.kernel.access import Refused
from workflows.kernel.actors import Actor
from workflows.kernel.recipients import Recipient
from workflows.kernel.timezones import zones_for
from workflows.kernel.ui import Form, Message, Outcome
from workflows.kernel.work import Context, Work

OPEN, SUBMITTED, ACCEPTED, NOT_APPLICABLE = "open", "submitted", "accepted", "not_applicable"
ACTIVE = (OPEN, SUBMITTED)


# -- shared by the owner's and the ISMS manager's side -------------------------------------------------


def iso(moment: datetime) -> str:
    """Times in records are UTC, whatever zone they were computed in, so the same moment reads the same."""
    return moment.astimezone(UTC).isoformat()


def parse_id(value: str) -> int | None:
    head = value.strip().split(":", 1)[0].removeprefix("EV-")
    return int(head) if head.isdigit() else None


def read_request(ctx: Context, value: str) -> EvidenceRequest | None:
    request_id = parse_id(value)
    if request_id is None:
        return None
    with ctx.read() as session:
        return session.get(EvidenceRequest, request_id)


def lock_request(session: Session, request_id: int) -> EvidenceRequest:
    request = session.get(EvidenceRequest, request_id, with_for_update=True, populate_existing=True)
    assert request is not None, "requests are never deleted"
    return request


def zone_of(session: Session, ctx: Context, person_id: str) -> ZoneInfo:
    return zones_for(session, ctx.org, [person_id])[person_id]


def answered(ctx: Context, session: Session, request: EvidenceRequest) -> Outcome:
    """What a button on a request that is no longer open says instead of acting.

    It reads in the caller's session: a second session inside a unit of work would wait for the
    first one's write lock on SQLite.
    """
    last = session.scalar(
        select(EvidenceSubmission)
        .where(EvidenceSubmission.request_id == request.id)
        .order_by(EvidenceSubmission.id.desc())
        .limit(1)
    )
    who = person_name(ctx, last.submitted_by) if last else "somebody"
    on = when(last.submitted_at, ctx.org.zone) if last else "earlier"
    state = {
        SUBMITTED: "it is waiting for the ISMS manager's review",
        ACCEPTED: "the ISMS manager accepted it",
        NOT_APPLICABLE: "the ISMS manager accepted that it does not apply",
    }.get(request.status, request.status)
    return Outcome.say(
        f"{request.ref} ({request.title}) was already answered by {who} on {on}; {state}. Nothing more to do here."
    )


NOT_FOUND = Outcome.say("I cannot find that evidence request. It may belong to another ISMS.")
ALREADY = Outcome.say("That was already handled (the click arrived twice).")


def _may_answer(ctx: Context, actor: Actor, request: EvidenceRequest, what: str) -> None:
    """Only the owner, or an ISMS manager on their behalf; a refusal is recorded."""
    if actor.id == request.owner_id or actor.has("isms_manager"):
        return
    with ctx.work(actor) as work:
        work.record(
            request.process, "access-denied", ("evidence", request.ref), {"attempted": what, "owner": request.owner_id}
        )
    raise Refused(
        f"Only {person_name(ctx, request.owner_id)} (the owner) or the ISMS manager can {what} "
        f"{request.ref}. This attempt has been recorded."
    )


# -- buttons that open forms -------------------------------------------------------------------------


def open_submit(ctx: Context, actor: Actor, value: str) -> Outcome:
    return _open_form(ctx, actor, value, "answer", lambda request: submit_form(ctx, request))


def open_not_applicable(ctx: Context, actor: Actor, value: str) -> Outcome:
    return _open_form(ctx, actor, value, "answer", not_applicable_form)


def open_delegate(ctx: Context, actor: Actor, value: str) -> Outcome:
    return _open_form(ctx, actor, value, "delegate", delegate_form)


def _open_form(ctx: Context, actor: Actor, value: str, what: str, form: Callable[[EvidenceRequest], Form]) -> Outcome:
    request = read_request(ctx, value)
    if request is None:
        return NOT_FOUND
    _may_answer(ctx, actor, request, what)
    if request.status != OPEN:
        with ctx.read() as session:
            return answered(ctx, session, request)
    return Outcome(form=form(request))


# -- answers ----------------------------------------------------------------------------------------


def submit(ctx: Context, actor: Actor, value: str, values: dict[str, str], key: str) -> Outcome:
    """Store the evidence (validated by evidence_forms.validate_submission) and ask for its review."""
    decision = values.get("decision")
    fields = {
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


def _answer_open(
    ctx: Context, actor: Actor, value: str, key: str, verb: str, step: Callable[[Work, EvidenceRequest], Outcome]
) -> Outcome:
    """What every answer to a request shares: the request exists, this person may answer it, a click
    counts once, and it is still open (checked again under its row lock) when ``step`` runs."""
    request = read_request(ctx, value)
    if request is None:
        return NOT_FOUND
    _may_answer(ctx, actor, request, verb)
    with ctx.work(actor) as work:
        if not work.once(key):
            return ALREADY
        locked = lock_request(work.session, request.id)
        if locked.status != OPEN:
            return answered(ctx, work.session, locked)
        return step(work, locked)


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
    return _answer_open(
        ctx,
        actor,
        value,
        key,
        "answer",
        lambda work, request: _store_answer(work, request, fields, not_applicable, files),
    )


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
    request.status, request.next_action_at = SUBMITTED, None
    data = {
        "submission": submission.id,
        "not_applicable": not_applicable,
        "period": request.period,
        **{name: _plain(value) for name, value in fields.items() if value is not None},
    }
    if shown_files:
        data["files"] = shown_files
    work.record(request.process, "submitted", ("evidence", request.ref), data)
    _ask_for_review(work, request, submission, shown_files)
    what = "Your not-applicable answer" if not_applicable else "Your evidence"
    return Outcome.say(
        f"Thank you. {what} for {request.ref} ({request.title}) is stored and the ISMS "
        "manager has been asked to review it."
    )


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _ask_for_review(
    work: Work, request: EvidenceRequest, submission: EvidenceSubmission, files: list[dict[str, object]]
) -> None:
    ctx = work.ctx
    shown: list[tuple[str, str]] = [("Owner", person_name(ctx, request.owner_id))]
    if submission.covers_from and submission.covers_to:
        shown.append(("Covers", f"{submission.covers_from.isoformat()} to {submission.covers_to.isoformat()}"))
    if submission.text and not submission.not_applicable:
        shown.append(("Evidence", submission.text[:1500]))
    if submission.link:
        shown.append(("Link", submission.link))
    if submission.number is not None:
        shown.append(("Number", f"{submission.number:g}"))
    if submission.approved is not None:
        shown.append(("Decision", "approved" if submission.approved else "not approved"))
    if files:
        shown.append(("Files", ", ".join(str(f["name"] or f["slack_file_id"]) for f in files)))
    for manager in ctx.org.with_role("isms_manager"):
        zone = zone_of(work.session, ctx, manager.id)
        message = notice(
            ctx,
            request,
            "review",
            zone,
            extra_fields=tuple(shown),
            actor=person_name(ctx, submission.submitted_by),
            not_applicable=submission.not_applicable,
            reason=submission.text or "",
        )
        message = Message(message.text, message.body, message.fields, review_buttons(request, submission.id))
        work.notify(
            Recipient.person(manager.id), message, f"evidence:{request.id}:sub{submission.id}:review:{manager.id}"
        )


def delegate(ctx: Context, actor: Actor, value: str, picked: str, note: str, key: str) -> Outcome:
    """Hand the request to somebody else: they own it now, are asked at once, and the previous owner knows."""
    person = find_person(ctx, picked)
    if person is None:
        return Outcome.say("Pick somebody listed in the organisation file.")

    def step(work: Work, request: EvidenceRequest) -> Outcome:
        if person.id == request.owner_id:
            return Outcome.say(f"{person.name} already owns {request.ref}.")
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
            zone = zone_of(work.session, ctx, person.id)
            work.notify(
                Recipient.person(person.id),
                notice(ctx, request, "delegated_to_you", zone, buttons=True, actor=actor.name, note=note.strip()),
                f"{base}:to",
            )
        if actor.id != previous:
            zone = zone_of(work.session, ctx, previous)
            work.notify(
                Recipient.person(previous),
                notice(ctx, request, "delegated_away", zone, actor=actor.name, new_owner=person.name),
                f"{base}:from",
            )
        return Outcome.say(f"{request.ref} ({request.title}) now belongs to {person.name}; they have been told.")

    return _answer_open(ctx, actor, value, key, "delegate", step)


def snooze(ctx: Context, actor: Actor, value: str, days: int, key: str) -> Outcome:
    """No reminders or escalation for a few days; the due date does not move."""
    if days not in ctx.org.activities.snooze_days:
        return Outcome.say("That snooze is not offered any more.")

    def step(work: Work, request: EvidenceRequest) -> Outcome:
        request.snoozed_until = work.now + timedelta(days=days)
        reschedule(ctx, work.session, request, work.now)
        work.record(
            request.process, "snoozed", ("evidence", request.ref), {"days": days, "until": iso(request.snoozed_until)}
        )
        zone = zone_of(work.session, ctx, actor.id) if actor.listed else ctx.org.zone
        next_at = request.next_action_at
        quiet = f"You will hear about it again {when(next_at, zone)}" if next_at else "No more reminders are due"
        return Outcome.say(
            f"Snoozed {request.ref} for {days} day{'s' if days != 1 else ''}. {quiet}; "
            f"it is still due {when(request.due_at, zone)}."
        )

    return _answer_open(ctx, actor, value, key, "snooze", step)


# -- lists ------------------------------------------------------------------------------------------


def _mine(ctx: Context, actor: Actor) -> tuple[list[EvidenceRequest], ZoneInfo]:
    with ctx.read() as session:
        requests = list(
            session.scalars(
                select(EvidenceRequest)
                .where(EvidenceRequest.owner_id == actor.id, EvidenceRequest.status.in_(ACTIVE))
                .order_by(EvidenceRequest.due_at, EvidenceRequest.id)
            )
        )
        zone = zone_of(session, ctx, actor.id) if actor.listed else ctx.org.zone
    return requests, zone


def describe(request: EvidenceRequest, zone: ZoneInfo, now: datetime) -> str:
    state = "waiting for review" if request.status == SUBMITTED else ("OVERDUE" if request.due_at <= now else "open")
    rejections = f"{request.round} rejection{'s' if request.round != 1 else ''}"
    extra = f", reopened after {rejections}" if request.round else ""
    return (
        f"{request.ref} {request.title} ({request.process}, {request.period}): due {when(request.due_at, zone)}, "
        f"{state}{extra}"
    )


def my_requests(ctx: Context, actor: Actor) -> Outcome:
    """``/isms evidence``: the person's open requests with their due dates."""
    requests, zone = _mine(ctx, actor)
    if not requests:
        return Outcome.say("You have no open evidence requests.")
    now = ctx.clock()
    waiting = sum(1 for r in requests if r.status == OPEN)
    return Outcome.say(
        f"Your evidence requests: {waiting} to answer, {len(requests) - waiting} waiting for review",
        body="\n".join(describe(r, zone, now) for r in requests),
        footer="Answer with the buttons in my messages or in the App Home.",
    )


HOME_LIMIT = 10


def home_items(ctx: Context, actor: Actor) -> list[Message]:
    """App Home sections: open requests with their buttons; for ISMS managers, what awaits review."""
    requests, zone = _mine(ctx, actor)
    now = ctx.clock()
    items = [
        Message(text=describe(r, zone, now), buttons=owner_buttons(ctx, r) if r.status == OPEN else ())
        for r in requests[:HOME_LIMIT]
    ]
    if actor.has("isms_manager"):
        with ctx.read() as session:
            waiting = session.execute(
                select(EvidenceRequest, EvidenceSubmission.id)
                .join(EvidenceSubmission, EvidenceSubmission.request_id == EvidenceRequest.id)
                .where(EvidenceRequest.status == SUBMITTED, EvidenceSubmission.decision.is_(None))
                .order_by(EvidenceSubmission.id)
                .limit(HOME_LIMIT)
            ).all()
        items += [
            Message(
                text=f"To review: {r.ref} {r.title} from {person_name(ctx, r.owner_id)}", buttons=review_buttons(r, sid)
            )
            for r, sid in waiting
        ]
    return items


# -- the scheduler's tick ---------------------------------------------------------------------------


def due_evidence(ctx: Context) -> None:
    """Every tick: create due requests, climb the reminder ladder, collect fetched file hashes."""
    create_due_requests(ctx)
    advance_requests(ctx)
    collect_file_hashes(ctx)

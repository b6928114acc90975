"""Management reviews (GOV, 27001 9.3), every step of one: scheduled (from the organisation file or on
demand), its input pack assembled and sent ahead of it, its decisions and actions recorded after it,
each action a change request whose state CHG reports back.

Records: ``review-scheduled``, ``pack-assembled`` (the Markdown text and its SHA-256),
``review-decided`` and one ``action-raised`` per action, all under the subject ("review", REV-…).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select

from storage.counters import next_number
from storage.models.reviews import Review, ReviewAction
from workflows.changes.flows import request_change
from workflows.changes.lifecycle import ChangeState
from workflows.changes.messages import state_label
from workflows.kernel.access import Allowed, Refused, require
from workflows.kernel.actors import SYSTEM, Actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.people import find_person, person_name, plural, when
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Outcome
from workflows.kernel.validation import ref_and_reason
from workflows.kernel.work import Context, Work
from workflows.outreach.calendar import cancel_event, reschedule_event, schedule_event
from workflows.outreach.files import dated_name, share_each
from workflows.review import forms, invitation, messages, pack
from workflows.review.lifecycle import ORGANISERS, REVIEWS, ReviewState, already_decided, deciders_of, load_review
from workflows.review.service import find_review

CALLING = "calling a management review"
MOVE_USAGE = "Usage: /isms review move REV-<year>-<n> YYYY-MM-DD HH:MM (organisation time)"
CANCEL_USAGE = "Usage: /isms review cancel REV-<year>-<n> <why it is cancelled>"
RECORDING = "recording the decisions of a management review"


def chair_of(ctx: Context, fallback: str) -> str:
    """The chair the organisation file names, else the GOV process owner, else ``fallback``."""
    return ctx.org.reviews.chair or ctx.org.process_owners.get("GOV") or fallback


def schedule_review(
    work: Work,
    *,
    title: str,
    starts_at: datetime,
    minutes: int,
    chair: str,
    attendees: list[str],
    location: str,
    origin: str,
) -> Review:
    """Record a review, invite its attendees (DM, and Outlook when Microsoft 365 is on); returns it."""
    year = starts_at.astimezone(work.ctx.org.zone).year
    ref = f"REV-{year}-{next_number(work.session, f'REV-{year}'):02d}"
    people = [chair, *(person for person in attendees if person != chair)]
    review = Review(
        ref=ref,
        title=" ".join(title.split()),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        chair=chair,
        attendees=",".join(people),
        location=location.strip(),
        origin=origin,
        state=ReviewState.SCHEDULED,
        pack_due_at=max(work.now, starts_at - timedelta(days=work.ctx.org.reviews.pack_days_before)),
        sequence=0,
        created_by=work.actor.id,
        created_at=work.now,
    )
    work.session.add(review)
    work.session.flush()
    ics = invitation.ics(work.ctx.org, review, work.now)
    work.record(
        "GOV",
        "review-scheduled",
        ("review", ref),
        {
            "title": review.title,
            "starts_at": starts_at.isoformat(),
            "ends_at": review.ends_at.isoformat(),
            "chair": chair,
            "attendees": people,
            "location": review.location,
            "origin": origin,
            "uid": invitation.uid(review),
            "ics": ics,
        },
    )
    for person in people:
        work.notify(Recipient.person(person), messages.invitation(work.ctx.org, review), f"gov:{ref}:invite:{person}")
    _share_invitation(work, review, ics, f"gov:{ref}:invite")
    if work.ctx.directory is not None:
        schedule_event(
            work,
            _event_key(review),
            subject=f"{review.title} ({ref})",
            start=review.starts_at,
            end=review.ends_at,
            attendees=[Recipient.person(person) for person in people],
            location=review.location,
        )
    return review


def _share_invitation(
    work: Work, review: Review, ics: str, key: str, comment: str = "Open it to add the meeting to your calendar."
) -> None:
    """The recorded ``.ics`` as a file in each attendee's DMs, so a calendar without Microsoft 365
    still gets the meeting (one click to import; a later one with the same UID updates it)."""
    share_each(
        work,
        [(Recipient.person(person), f"{key}:{person}:ics") for person in review.people],
        filename=dated_name("management-review", review.ref, review.starts_at, work.ctx.org.zone, "ics"),
        content=ics.encode(),
        title=f"{review.title} ({review.ref}): calendar invitation",
        comment=comment,
    )


def _event_key(review: Review) -> str:
    return f"gov:{review.ref}:event"


def move_review(work: Work, review: Review, starts_at: datetime) -> None:
    """Move a review: the same calendar event (same UID, next SEQUENCE) and a pack due again."""
    length = review.ends_at - review.starts_at
    review.starts_at, review.ends_at = starts_at, starts_at + length
    review.sequence += 1
    if review.state == ReviewState.SCHEDULED:
        review.pack_due_at = max(work.now, starts_at - timedelta(days=work.ctx.org.reviews.pack_days_before))
    ics = invitation.ics(work.ctx.org, review, work.now)
    work.record(
        "GOV",
        "review-scheduled",
        ("review", review.ref),
        {
            "moved": True,
            "starts_at": starts_at.isoformat(),
            "sequence": review.sequence,
            "ics": ics,
        },
    )
    for person in review.people:
        work.notify(
            Recipient.person(person),
            messages.invitation(work.ctx.org, review, moved=True),
            f"gov:{review.ref}:moved:{review.sequence}:{person}",
        )
    _share_invitation(work, review, ics, f"gov:{review.ref}:moved:{review.sequence}")
    if work.ctx.directory is not None:
        reschedule_event(work, _event_key(review), start=review.starts_at, end=review.ends_at)


# -- on demand ------------------------------------------------------------------------------------------


def open_new(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, ORGANISERS, process="GOV", what=CALLING)
    return Outcome(form=forms.new_form(ctx.org, ctx.clock(), person_name(ctx.org, chair_of(ctx, actor.id))))


def submit_new(ctx: Context, actor: Actor, values: dict[str, str], key: str) -> Outcome:
    """The form of ``/isms review new``, validated by the router first (``forms.validate_new``)."""
    require(ctx, actor, ORGANISERS, process="GOV", what=CALLING)
    starts = forms.parse_moment(values["starts"])
    assert starts is not None, "validated by forms.validate_new"
    picked = find_person(ctx.org, values.get("chair", ""))
    attendees, _ = forms.parse_people(ctx.org, values.get("attendees", ""))
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say("This review was already scheduled.")
        review = schedule_review(
            work,
            title=values["title"],
            starts_at=starts,
            minutes=int(values["duration"]),
            chair=picked.id if picked else chair_of(ctx, actor.id),
            attendees=attendees,
            location=values.get("location", ""),
            origin="chat",
        )
        ref = review.ref
    return Outcome.say(f"{ref} is scheduled for {when(starts, ctx.org.zone)}; the attendees are invited.")


def move(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms review move REV-… YYYY-MM-DD HH:MM`` (organisation time): the same review, later or earlier."""
    ref, _, moment = text.strip().partition(" ")
    try:
        starts = datetime.strptime(moment.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=ctx.org.zone)
    except ValueError:
        raise Refused(MOVE_USAGE) from None
    if starts <= ctx.clock():
        raise Refused("That time has passed: pick a time in the future.")

    def step(work: Work, review: Review) -> Outcome:
        move_review(work, review, starts)
        return Outcome.say(f"{review.ref} moved to {when(starts, ctx.org.zone)}; the attendees are told.")

    return run_step(
        ctx,
        actor,
        REVIEWS,
        ref,
        key=key,
        what=CALLING,
        allowed=Allowed(ORGANISERS),
        step=step,
        within={ReviewState.SCHEDULED, ReviewState.PACK_READY},
        again=Outcome.say(f"{ref} was already moved."),
    )


def cancel(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms review cancel REV-… <why>``: no pack, the attendees told with the reason, the calendar
    event cancelled (Outlook's cancellation, and an ``.ics`` cancellation of the same UID)."""
    ref, reason = ref_and_reason(text, CANCEL_USAGE)

    def step(work: Work, review: Review) -> Outcome:
        review.pack_due_at = None
        review.sequence += 1
        ics = invitation.ics(work.ctx.org, review, work.now, cancelled=True)
        work.record(
            "GOV",
            "review-cancelled",
            ("review", review.ref),
            {"reason": reason, "from": review.state, "sequence": review.sequence, "ics": ics},
        )
        for person in review.people:
            work.notify(
                Recipient.person(person),
                messages.cancelled(work.ctx.org, review, reason),
                f"gov:{review.ref}:cancelled:{person}",
            )
        _share_invitation(
            work, review, ics, f"gov:{review.ref}:cancelled", "Open it to take the meeting out of your calendar."
        )
        if work.ctx.directory is not None:
            cancel_event(work, _event_key(review), reason)
        return Outcome.say(f"{review.ref} is cancelled; the attendees are told.")

    return run_step(
        ctx,
        actor,
        REVIEWS,
        ref,
        key=key,
        what=CALLING,
        allowed=Allowed(ORGANISERS),
        step=step,
        to=ReviewState.CANCELLED,
        again=Outcome.say(f"{ref.strip().upper()} was already cancelled."),
    )


# -- the input pack ---------------------------------------------------------------------------------------


def assemble_pack(ctx: Context, review_id: int) -> bool:
    """Build the pack of one review from the records and store it with its hash, once: another runtime
    (or a second tick) that finds it already assembled under the row lock does nothing. True if stored."""
    now = ctx.clock()
    with ctx.read() as session:
        review = session.get(Review, review_id)
        if review is None or review.pack_due_at is None:
            return False
        built = pack.assemble(session, ctx, review, now)
    rendered = pack.render(ctx, built)
    with ctx.work(SYSTEM) as work:
        review = work.session.get(Review, review_id, with_for_update=True, populate_existing=True)
        if review is None or review.pack_due_at is None:
            return False
        review.pack_due_at, review.pack_at = None, work.now
        review.pack_markdown, review.pack_html, review.pack_sha256 = rendered.markdown, rendered.html, rendered.sha256
        if review.state == ReviewState.SCHEDULED:
            review.state = ReviewState.PACK_READY
        work.record(
            "GOV",
            "pack-assembled",
            ("review", review.ref),
            {
                "sha256": rendered.sha256,
                "html_sha256": hashlib.sha256(rendered.html.encode("utf-8")).hexdigest(),
                "markdown": rendered.markdown,
                "inputs": {item.key: item.has_data for item in built.inputs},
            },
        )
        for person in review.people:
            work.notify(
                Recipient.person(person),
                messages.pack_ready(ctx.org, review, built, rendered, decides=_records_decisions(ctx, review, person)),
                f"gov:{review.ref}:pack:{person}",
            )
        share_each(
            work,
            [
                (Recipient.person(person), f"gov:{review.ref}:pack:{rendered.sha256[:16]}:{person}:file")
                for person in review.people
            ],
            filename=dated_name("management-review-pack", review.ref, work.now, ctx.org.zone, "html"),
            content=rendered.html.encode(),
            title=f"Input pack of {review.ref}",
            comment=f"Input pack of {review.title} ({review.ref}): the whole pack (HTML, prints on A4).",
        )
    return True


def _records_decisions(ctx: Context, review: Review, person: str) -> bool:
    """Whether ``person`` may record the review's decisions (their pack gets the button)."""
    listed = ctx.org.person(person)
    return person == review.chair or (listed is not None and any(role in ORGANISERS for role in listed.roles))


# -- decisions and actions ----------------------------------------------------------------------------------


def open_decide(ctx: Context, actor: Actor, ref: str) -> Outcome:
    review = find_review(ctx, ref)
    require(ctx, actor, deciders_of(review), process="GOV", what=RECORDING, subject=("review", review.ref))
    if review.state in (ReviewState.DECIDED, ReviewState.CANCELLED):
        raise Refused(already_decided(review))
    _started(ctx, review)
    return Outcome(form=forms.decide_form(review.ref))


def _started(ctx: Context, review: Review) -> None:
    if ctx.clock() < review.starts_at:
        raise Refused(
            f"{review.ref} takes place {when(review.starts_at, ctx.org.zone)}; "
            "its decisions can be recorded once it has started."
        )


def submit_decision(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """Record what the review decided; each action becomes a change request (origin GOV, the review)."""
    today = ctx.clock().astimezone(ctx.org.zone).date()
    actions, _ = forms.parse_actions(ctx.org, values.get("actions", ""), today)

    def step(work: Work, review: Review) -> Outcome:
        _started(ctx, review)
        review.decisions, review.decided_at = values["decisions"].strip(), work.now
        raised: list[ReviewAction] = []
        for number, line in enumerate(actions, 1):
            change_ref = request_change(
                work,
                title=line.text,
                description=f"{line.text}\nOwner: {person_name(ctx.org, line.owner)}; due {line.due.isoformat()}.",
                reason=f"Decided in management review {review.ref}.",
                origin=("GOV", review.ref),
            )
            action = ReviewAction(
                review_ref=review.ref,
                number=number,
                text=line.text,
                owner=line.owner,
                due=line.due,
                change_ref=change_ref,
                change_state=ChangeState.AWAITING,  # requested as not significant: approval is next
            )
            work.session.add(action)
            raised.append(action)
            work.record(
                "GOV",
                "action-raised",
                ("review", review.ref),
                {
                    "number": number,
                    "text": line.text,
                    "owner": line.owner,
                    "due": line.due.isoformat(),
                    "change": change_ref,
                },
            )
        work.session.flush()
        work.record(
            "GOV",
            "review-decided",
            ("review", review.ref),
            {"decisions": review.decisions, "actions": [a.change_ref for a in raised]},
        )
        for person in review.people:
            work.notify(
                Recipient.person(person),
                messages.decided(ctx.org, review, raised),
                f"gov:{review.ref}:decided:{person}",
            )
        count = plural(len(raised), "action")
        return Outcome.say(f"The decisions of {review.ref} are recorded, with {count} as change requests.")

    return run_step(
        ctx,
        actor,
        REVIEWS,
        ref,
        key=key,
        what=RECORDING,
        allowed=deciders_of,
        step=step,
        to=ReviewState.DECIDED,
        again=Outcome.say(f"The decisions of {ref} were already recorded."),
    )


def take_change_status(work: Work, event: Interface) -> None:
    """CHG's ``change-status`` for an action: the state the next pack shows."""
    action = work.session.scalar(
        select(ReviewAction).where(ReviewAction.change_ref == event.data["change"]).with_for_update()
    )
    if action is not None:
        action.change_state = str(event.data["state"])


def take_change_finished(work: Work, event: Interface) -> None:
    """CHG's ``change-finished``: the chair hears that an action of their review is done (or failed)."""
    action = work.session.scalar(select(ReviewAction).where(ReviewAction.change_ref == event.data["change"]))
    review = load_review(work.session, event.subject_ref, False)
    if action is None or review is None:
        return
    work.notify(
        Recipient.person(review.chair),
        messages.action_finished(review.ref, action, state_label(str(event.data["state"])).lower()),
        f"gov:{review.ref}:action:{action.number}:finished",
    )

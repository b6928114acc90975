"""Information security improvement (IMPR): suggestions from anyone, the items audits hand over, and
the ISMS manager's decision. An accepted item becomes a change request (origin IMPR) whose result comes
back through CHG's interfaces; a declined one tells its author why, through the outbox."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from storage.counters import next_number
from storage.models.improvement import Improvement
from workflows.changes.flows import request_change
from workflows.improvement import forms, messages
from workflows.improvement.lifecycle import DECIDERS, ITEMS, ImprovementState, load_item
from workflows.kernel.access import EVERYONE, Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.paging import clip
from workflows.kernel.people import person_name, with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.steps import run_step
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context, Work

DECIDING = "deciding on improvements"


def suggest(ctx: Context, actor: Actor, text: str, key: str) -> Outcome:
    """``/isms suggest <text>``: anyone; the ISMS managers get it with Accept and Decline."""
    require(ctx, actor, EVERYONE, process="IMPR", what="suggesting improvements")
    problem = forms.check_suggestion(text)
    if problem:
        raise Refused(problem)
    with ctx.work(actor) as work:
        if not work.once(key):
            return Outcome.say("Your suggestion was already recorded.")
        item = _register(work, kind="suggestion", text=text.strip(), author=actor.id, author_to=str(actor.recipient))
        work.record("IMPR", "suggestion-made", ("improvement", item.ref), {"kind": "suggestion", "text": item.text})
        _ask_deciders(work, item)
        return Outcome(reply=messages.thanks(item))


def _register(
    work: Work,
    *,
    kind: str,
    text: str,
    author: str,
    author_to: str,
    source: str = "chat",
    source_ref: str | None = None,
    state: ImprovementState = ImprovementState.OPEN,
    change_ref: str | None = None,
) -> Improvement:
    year = work.now.astimezone(work.ctx.org.zone).year
    item = Improvement(
        ref=f"IMPR-{year}-{next_number(work.session, f'IMPR-{year}'):04d}",
        kind=kind,
        source=source,
        source_ref=source_ref,
        text=text,
        author=author,
        author_to=author_to,
        state=state,
        change_ref=change_ref,
        created_at=work.now,
    )
    work.session.add(item)
    work.session.flush()
    return item


def _ask_deciders(work: Work, item: Improvement) -> None:
    for person in with_role(work.ctx.org, *DECIDERS):
        work.notify(
            Recipient.person(person),
            messages.decision_request(work.ctx.org, item),
            f"impr:{item.ref}:decide:{person}",
        )


def _decided(work: Work, item: Improvement, verdict: str) -> None:
    """The decision request becomes a note of who decided, for every decider."""
    for person in with_role(work.ctx.org, *DECIDERS):
        work.notify(
            Recipient.person(person),
            messages.decided(item, verdict, work.actor.name),
            f"impr:{item.ref}:decided:{person}",
            replaces=f"impr:{item.ref}:decide:{person}",
        )


def accept(ctx: Context, actor: Actor, ref: str, key: str) -> Outcome:
    """Accept: the item becomes a change request with origin IMPR; its author is told."""

    def step(work: Work, item: Improvement) -> Outcome:
        item.change_ref = request_change(
            work,
            title=clip(f"Improvement {item.ref}: {item.text}", 200),
            description=item.text,
            reason=f"Improvement {item.ref} ({item.kind} from {person_name(work.ctx.org, item.author)}), "
            f"accepted by {work.actor.name}.",
            origin=("IMPR", item.ref),
        )
        item.decided_by, item.decided_at = work.actor.id, work.now
        work.record("IMPR", "suggestion-accepted", ("improvement", item.ref), {"change": item.change_ref})
        work.notify(Recipient.parse(item.author_to), messages.accepted(item), f"impr:{item.ref}:accepted")
        _decided(work, item, "accepted")
        return Outcome.say(f"{item.ref} is accepted: it is change {item.change_ref}.")

    return _decide(ctx, actor, ref, key, ImprovementState.ACCEPTED, step)


def _decide(
    ctx: Context, actor: Actor, ref: str, key: str, to: ImprovementState, step: Callable[[Work, Improvement], Outcome]
) -> Outcome:
    """An ISMS manager's decision on an open item (a repeated click is told it was already made)."""
    return run_step(
        ctx,
        actor,
        ITEMS,
        ref,
        key=key,
        what=DECIDING,
        allowed=Allowed(DECIDERS),
        step=step,
        to=to,
        again=Outcome.say(f"{ref} was already {to}."),
    )


def open_decline(ctx: Context, actor: Actor, ref: str) -> Outcome:
    require(ctx, actor, DECIDERS, process="IMPR", what=DECIDING, subject=("improvement", ref))
    item = ITEMS.find(ctx, ref)
    if item is None:
        raise Refused(ITEMS.missing(ref))
    if item.state != ImprovementState.OPEN:
        with ctx.read() as session:
            raise Refused(ITEMS.not_now(session, item))
    return Outcome(form=forms.decline_form(item.ref))


def decline(ctx: Context, actor: Actor, ref: str, reason: str, key: str) -> Outcome:
    """Decline with a reason (validated by the form); the author is told it in a DM."""

    def step(work: Work, item: Improvement) -> Outcome:
        item.reason, item.decided_by, item.decided_at = reason.strip(), work.actor.id, work.now
        work.record("IMPR", "suggestion-declined", ("improvement", item.ref), {"reason": item.reason})
        work.notify(
            Recipient.parse(item.author_to), messages.declined(item, work.actor.name), f"impr:{item.ref}:declined"
        )
        _decided(work, item, "declined")
        return Outcome.say(f"{item.ref} is declined; {person_name(work.ctx.org, item.author)} is told why.")

    return _decide(ctx, actor, ref, key, ImprovementState.DECLINED, step)


# -- what other processes hand to IMPR -----------------------------------------------------------------


def take_finding(work: Work, event: Interface) -> None:
    """AUD hands over a nonconformity (already a change, followed by AUD) or an opportunity for
    improvement (open for the ISMS manager's decision)."""
    nonconformity = event.data["kind"] in ("major", "minor")
    _take(
        work,
        event,
        kind="nonconformity" if nonconformity else "opportunity",
        author=str(event.data["auditor"]),
        state=ImprovementState.ACCEPTED if nonconformity else ImprovementState.OPEN,
        change_ref=event.data.get("change"),
    )


def take_metric_breach(work: Work, event: Interface) -> None:
    """PERF found a metric over its threshold: a suggestion in the register, from the owner it told."""
    told = [str(person) for person in event.data.get("told", ())]
    author = told[0] if told else with_role(work.ctx.org, *DECIDERS)[0]
    _take(work, event, kind="suggestion", author=author)


def _take(
    work: Work,
    event: Interface,
    *,
    kind: str,
    author: str,
    state: ImprovementState = ImprovementState.OPEN,
    change_ref: str | None = None,
) -> None:
    """Register what another process handed over, once per subject; an open item goes to the deciders."""
    if _by_source(work, event.subject_ref) is not None:
        return
    item = _register(
        work,
        kind=kind,
        text=str(event.data["text"]),
        author=author,
        author_to=str(Recipient.person(author)),
        source=event.source,
        source_ref=event.subject_ref,
        state=state,
        change_ref=change_ref,
    )
    work.record("IMPR", "registered", ("improvement", item.ref), {"kind": item.kind, "from": event.subject_ref})
    if state == ImprovementState.OPEN:
        _ask_deciders(work, item)


def finding_closed(work: Work, event: Interface) -> None:
    """AUD closed a nonconformity whose corrective action was verified: its register entry is done."""
    item = _by_source(work, event.subject_ref)
    if item is not None and item.kind == "nonconformity" and item.state == ImprovementState.ACCEPTED:
        item.state = ImprovementState.DONE
        work.record("IMPR", "improvement-done", ("improvement", item.ref), {"finding": event.subject_ref})


def _by_source(work: Work, source_ref: str) -> Improvement | None:
    return work.session.scalar(select(Improvement).where(Improvement.source_ref == source_ref).with_for_update())


def change_status(work: Work, event: Interface) -> None:
    """CHG moved a change IMPR asked for; the register shows the change, its state is CHG's to tell."""


def change_finished(work: Work, event: Interface) -> None:
    """The change of an accepted item ended: verified makes it done, otherwise not done; the author is told."""
    item = load_item(work.session, event.subject_ref, True)
    if item is None or item.change_ref != event.data.get("change") or item.state != ImprovementState.ACCEPTED:
        return
    state = str(event.data.get("state"))
    item.state = ImprovementState.DONE if state == "verified" else ImprovementState.NOT_DONE
    work.record(
        "IMPR",
        "improvement-done" if item.state == ImprovementState.DONE else "improvement-not-done",
        ("improvement", item.ref),
        {"change": item.change_ref, "state": state},
    )
    work.notify(Recipient.parse(item.author_to), messages.finished(item), f"impr:{item.ref}:finished")

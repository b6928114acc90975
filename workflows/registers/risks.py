"""The risk owner's steps, each through ``owner_step``: re-rate a risk, accept a residual level above
appetite (with a reason and an expiry date), or plan its treatment, whose actions become requests for
change (RT -> CHG). What CHG reports back about those changes is kept on the risk's history."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from storage.models.registers import RegisterItem
from workflows.changes.flows import request_change
from workflows.kernel.access import Refused
from workflows.kernel.actors import Actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context, Work
from workflows.registers import forms, messages
from workflows.registers.flows import change_fields
from workflows.registers.kinds import KINDS
from workflows.registers.lifecycle import (
    RISK_LIFECYCLE,
    RiskState,
    open_form,
    owner_step,
    register,
    today,
)

KIND = KINDS["risk"]
RISKS = register(KIND, RISK_LIFECYCLE)
LIVE = (RiskState.OPEN, RiskState.TREATED, RiskState.ACCEPTED)


def open_rerate(ctx: Context, actor: Actor, ref: str) -> Outcome:
    settings = ctx.org.registers
    return open_form(
        ctx,
        actor,
        RISKS,
        ref,
        f"re-rating risk {ref}",
        lambda item: forms.rerate_form(item.ref, settings, {a: int(item.fields.get(a) or 0) for a in forms.AXES}),
    )


def submit_rerate(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """New ratings, one ``item-changed`` record per changed value with the old one; a residual level
    that rises above appetite asks the owner to accept or plan."""

    def step(work: Work, item: RegisterItem) -> Outcome:
        was_above = messages.above_appetite(work.ctx.org, item)
        new = {axis: int(values[axis]) for axis in forms.AXES}
        if not change_fields(work, KIND, item, dict(new), reason=values["reason"].strip()):
            return Outcome.say(f"Risk {item.ref} keeps its rating; nothing changed.")
        if not was_above and messages.above_appetite(work.ctx.org, item):
            item.status = RiskState.OPEN  # a plan or acceptance given for a lower level no longer covers it
        if messages.needs_decision(work.ctx.org, item):
            ask_owner(work, item, "It was re-rated.")
        return Outcome.say(
            f"Risk {item.ref} re-rated: residual level {item.level} (appetite {work.ctx.org.registers.appetite})."
        )

    return owner_step(
        ctx,
        actor,
        RISKS,
        ref,
        key,
        f"re-rating risk {ref}",
        step,
        f"Your rating of {ref} was already recorded.",
        within=LIVE,
    )


def ask_owner(work: Work, item: RegisterItem, why: str) -> None:
    """The owner's question: accept the residual risk or plan its treatment (once per level and day)."""
    if item.owner is None:
        return
    key = f"risk:{item.ref}:decide:{item.level}:{work.now:%Y-%m-%d}"
    work.notify(Recipient.person(item.owner), messages.decision_needed(work.ctx.org, item, why), key)


def open_accept(ctx: Context, actor: Actor, ref: str) -> Outcome:
    day = today(ctx)
    return open_form(
        ctx,
        actor,
        RISKS,
        ref,
        f"accepting risk {ref}",
        lambda item: forms.accept_form(item.ref, ctx.org.registers, day),
    )


def submit_accept(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """The owner carries the residual risk until the given day; the day after, they are asked again."""
    until = date.fromisoformat(values["until"].strip())

    def step(work: Work, item: RegisterItem) -> Outcome:
        if not messages.above_appetite(work.ctx.org, item):
            raise Refused(f"Risk {item.ref} is within the appetite (level {item.level}); it needs no acceptance.")
        reason = values["reason"].strip()
        item.fields = {
            **item.fields,
            "accepted_by": work.actor.id,
            "accepted_reason": reason,
            "accepted_until": until.isoformat(),
        }
        item.due_at = expiry(work.ctx, until)
        item.updated_at = work.now
        work.record(
            "RT",
            "risk-accepted",
            ("risk", item.ref),
            {
                "level": item.level,
                "appetite": work.ctx.org.registers.appetite,
                "reason": reason,
                "until": until.isoformat(),
                "previous_status": item.status,
            },
        )
        return Outcome.say(f"Risk {item.ref} accepted until {until.isoformat()}. You will be asked again then.")

    return owner_step(
        ctx,
        actor,
        RISKS,
        ref,
        key,
        f"accepting risk {ref}",
        step,
        f"Your acceptance of {ref} was already recorded.",
        to=RiskState.ACCEPTED,
    )


def expiry(ctx: Context, until: date) -> datetime:
    """An acceptance runs to the end of its last day in the organisation's timezone."""
    return datetime.combine(until + timedelta(days=1), time(0), tzinfo=ctx.org.zone)


def open_plan(ctx: Context, actor: Actor, ref: str) -> Outcome:
    return open_form(
        ctx, actor, RISKS, ref, f"planning the treatment of risk {ref}", lambda item: forms.plan_form(item.ref)
    )


def submit_plan(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """Each action becomes a request for change from RT, in this transaction."""
    actions = forms.plan_actions(values)

    def step(work: Work, item: RegisterItem) -> Outcome:
        changes = [
            request_change(
                work,
                title=action,
                description=f"Treatment action for risk {item.ref}: {item.title}",
                reason=f"Risk {item.ref} has residual level {item.level}, above the appetite of "
                f"{work.ctx.org.registers.appetite}.",
                origin=("RT", item.ref),
                element=f"risk {item.ref}",
                tell_requester=False,
            )
            for action in actions
        ]
        item.fields = {**item.fields, "plan_changes": changes}
        item.due_at = None
        item.updated_at = work.now
        work.record("RT", "treatment-planned", ("risk", item.ref), {"actions": actions, "changes": changes})
        return Outcome.say(f"Treatment of risk {item.ref} planned: {', '.join(changes)} requested.")

    return owner_step(
        ctx,
        actor,
        RISKS,
        ref,
        key,
        f"planning the treatment of risk {ref}",
        step,
        f"Your plan for {ref} was already recorded.",
        to=RiskState.TREATED,
    )


def take_change_news(work: Work, event: Interface) -> None:
    """CHG -> RT: a treatment action's change moved; the risk's history shows it, its owner hears
    when it is finished."""
    item = RISKS.load(work.session, event.subject_ref, False)
    if item is None:
        return
    work.record("RT", "treatment-change", ("risk", item.ref), dict(event.data))
    if event.name == "change-finished" and item.owner is not None:
        change, state = event.data.get("change"), event.data.get("state")
        work.notify(
            Recipient.person(item.owner),
            Message(text=f"{change}, a treatment action of risk {item.ref}, is finished: {state}."),
            f"risk:{item.ref}:{change}:finished",
        )


def take_incident(work: Work, event: Interface) -> None:
    """INC -> RA: a closed incident names affected assets (by id, in its "affected" text); each risk on
    those assets goes to its owner with the question whether it needs re-rating."""
    words = set(re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(event.data.get("affected") or "")))
    if not words:
        return
    assets = set(
        work.session.scalars(select(RegisterItem.ref).where(RegisterItem.kind == "asset", RegisterItem.ref.in_(words)))
    )
    if not assets:
        return
    candidates = work.session.scalars(
        select(RegisterItem).where(RegisterItem.kind == "risk", RegisterItem.status.in_(LIVE))
    )
    for item in candidates:
        hit = sorted(assets & {part.strip() for part in str(item.fields.get("assets") or "").split(";")})
        if not hit or item.owner is None:
            continue
        work.record("RA", "incident-on-asset", ("risk", item.ref), {"incident": event.subject_ref, "assets": hit})
        work.notify(
            Recipient.person(item.owner),
            messages.rerate_question(item, event.subject_ref, hit),
            f"risk:{item.ref}:{event.subject_ref}:rerate",
        )

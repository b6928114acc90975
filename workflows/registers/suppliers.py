"""The supplier owner's step: record a review (the date and what it found), which sets the supplier's
``last_review`` (recorded with the previous date) and so plans the next review by its criticality."""

from __future__ import annotations

from storage.models.registers import RegisterItem
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context, Work
from workflows.registers import forms, reviews
from workflows.registers.flows import change_fields
from workflows.registers.kinds import KINDS
from workflows.registers.lifecycle import open_form, owner_step, register, today

KIND = KINDS["supplier"]
SUPPLIERS = register(KIND)


def open_review(ctx: Context, actor: Actor, ref: str) -> Outcome:
    day = today(ctx)
    return open_form(
        ctx, actor, SUPPLIERS, ref, f"reviewing supplier {ref}", lambda item: forms.review_form(item.ref, day)
    )


def submit_review(ctx: Context, actor: Actor, ref: str, values: dict[str, str], key: str) -> Outcome:
    """The review's date becomes ``last_review`` (an ``item-changed`` record with the findings)."""
    reviewed = values["reviewed_on"].strip()

    def step(work: Work, item: RegisterItem) -> Outcome:
        change_fields(work, KIND, item, {"last_review": reviewed}, findings=values.get("findings", "").strip())
        following = reviews.review_date(work.ctx.org, item)
        after = f" The next review is due on {following.isoformat()}." if following else ""
        return Outcome.say(f"Review of supplier {item.ref} ({item.title}) recorded for {reviewed}.{after}")

    return owner_step(
        ctx,
        actor,
        SUPPLIERS,
        ref,
        key,
        f"reviewing supplier {ref}",
        step,
        f"Your review of {ref} was already recorded.",
        within=("active",),
    )

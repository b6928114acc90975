"""What the bot could not deliver: dead outbox effects, shown to the ISMS manager (process REC)."""

from __future__ import annotations

from config.organisation import Role
from storage.outbox import counts_by_status, dead_effects
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def undelivered(ctx: Context, actor: Actor) -> Outcome:
    require(ctx, actor, {Role.ISMS_MANAGER}, process="REC", what="the delivery report")
    with ctx.read() as session:
        counts = counts_by_status(session)
        dead = dead_effects(session)
    fields = tuple((status, str(counts.get(status, 0))) for status in ("pending", "sending", "sent", "dead"))
    lines = [f"{e.key} ({e.kind}), {e.attempts} attempts: {e.last_error or 'no error text'}" for e in dead]
    text = (
        "Nothing is stuck: every effect was delivered or is still being tried."
        if not dead
        else (f"{len(dead)} effect(s) could not be delivered and need a look:")
    )
    return Outcome(reply=Message(text=text, body="\n".join(lines), fields=fields))

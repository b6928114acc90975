"""``/isms processes``: the catalogue the bot runs, so people see which process a request belongs to."""

from __future__ import annotations

from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def catalogue_summary(ctx: Context, actor: Actor) -> Outcome:
    lines = []
    for process in ctx.catalogue:
        owner_id = ctx.org.process_owners.get(process.id)
        owner = ctx.org.person(owner_id) if owner_id else None
        lines.append(f"{process.id} ({process.category}): {process.name}. Owner: {owner.name if owner else 'none'}")
    return Outcome(reply=Message(text=f"{len(lines)} processes of {ctx.catalogue.model}", body="\n".join(lines)))

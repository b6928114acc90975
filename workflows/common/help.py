"""``/isms help``: what this person may do, by role, so nobody is shown buttons they cannot use.

Every process declares its own help entries in its descriptor; this only picks the ones the person's
roles allow, in the order of the registry.
"""

from __future__ import annotations

from config.organisation import role_labels
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def help_for(ctx: Context, actor: Actor) -> Outcome:
    allowed = [entry for process in ctx.processes for entry in process.help if actor.has(*entry.roles)]
    roles = role_labels(actor.roles)
    text = ctx.templates.text("help.j2", actor=actor, roles=roles, commands=allowed, org=ctx.org)
    return Outcome(reply=Message(text=text.splitlines()[0], body="\n".join(text.splitlines()[1:]).strip()))

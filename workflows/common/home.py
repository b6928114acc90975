"""The App Home: who you are to the ISMS and what is waiting for you, from every process's section."""

from __future__ import annotations

from workflows.kernel.actors import Actor
from workflows.kernel.ui import HomeView, Message
from workflows.kernel.work import Context


def home(ctx: Context, actor: Actor) -> HomeView:
    roles = ", ".join(sorted(role.label for role in actor.roles)) or "not registered"
    items = [item for process in ctx.processes if process.home for item in process.home(ctx, actor)]
    return HomeView(
        title=f"ISMS of {ctx.org.name}",
        sections=(Message(text=f"Your role: {roles}"), *(items or [Message(text="You have no open items.")])),
    )

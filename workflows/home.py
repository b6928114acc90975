"""The App Home: who you are to the ISMS and what is waiting for you."""

from __future__ import annotations

from workflows import change_chat, evidence, incident_lists
from workflows.actors import Actor
from workflows.context import Context
from workflows.ui import HomeView, Message


def home(ctx: Context, actor: Actor) -> HomeView:
    roles = ", ".join(sorted(r.replace("_", " ") for r in actor.roles)) or "not registered"
    items: list[Message] = [
        *incident_lists.home_items(ctx, actor),
        *evidence.home_items(ctx, actor),
        *change_chat.home_items(ctx, actor),
    ]
    return HomeView(
        title=f"ISMS of {ctx.org.name}",
        sections=(Message(text=f"Your role: {roles}"), *(items or [Message(text="You have no open items.")])),
    )

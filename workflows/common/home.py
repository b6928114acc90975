"""The App Home: who you are to the ISMS and what is waiting for you, from every process's section.

Each process contributes its section through its descriptor (``Process.home``): the person's open
evidence requests and reviews (EVIDENCE), their own open incident reports and the ones they triage or
handle (INC), the changes waiting for their approval, risk rating or verification (CHG), and for the
ISMS manager and the security team the status overview (COM). Overview sections come first, so the
counts lead and a long list of items never pushes them out of Slack's 100 blocks (the Slack surface
cuts what does not fit after them and says so).
"""

from __future__ import annotations

from config.organisation import role_labels
from workflows.kernel.actors import Actor
from workflows.kernel.ui import HomeView, Message
from workflows.kernel.work import Context

OVERVIEW_FIRST = ("COM",)
"""Processes whose Home section is an overview shown before everybody's own items."""


def home(ctx: Context, actor: Actor) -> HomeView:
    roles = ", ".join(role_labels(actor.roles)) or "not registered"
    overview = [item for p in ctx.processes if p.home and p.id in OVERVIEW_FIRST for item in p.home(ctx, actor)]
    items = [item for p in ctx.processes if p.home and p.id not in OVERVIEW_FIRST for item in p.home(ctx, actor)]
    return HomeView(
        title=f"ISMS of {ctx.org.name}",
        sections=(
            Message(text=f"Your role: {roles}"),
            *overview,
            *(items or [Message(text="You have no open items.")]),
        ),
    )

"""Entries every organisation has: help, home and the process catalogue."""

from __future__ import annotations

from workflows.common.catalogue import catalogue_summary
from workflows.common.help import help_for
from workflows.common.home import home
from workflows.kernel.routing import Request, Router
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context


def _home(ctx: Context, request: Request) -> Outcome:
    """``/isms home``: the App Home as one message, with each list's "More" button (numbered in the console)."""
    view = home(ctx, request.actor)
    body = "\n".join(_lines(section) for section in view.sections)
    more = tuple(b for section in view.sections for b in section.buttons if b.action_id.endswith(".more"))
    return Outcome.say(view.title, body=body, buttons=more)


def _lines(section: Message) -> str:
    """A Home section as console lines: its headline, counts and body."""
    parts = [section.text, *(f"{label}: {value}" for label, value in section.fields), section.body]
    return "\n".join(part for part in parts if part)


def register(router: Router) -> None:
    router.isms["help"] = lambda ctx, request: help_for(ctx, request.actor)
    router.isms["home"] = _home
    router.isms["processes"] = lambda ctx, request: catalogue_summary(ctx, request.actor)

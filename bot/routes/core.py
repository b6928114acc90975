"""Entries every organisation has: help, home, the process catalogue, the delivery report."""

from __future__ import annotations

from bot.routes import Request, Router
from workflows import delivery, help, processes
from workflows.context import Context
from workflows.home import home
from workflows.ui import Outcome


def _home(ctx: Context, request: Request) -> Outcome:
    view = home(ctx, request.actor)
    body = "\n".join(section.text for section in view.sections)
    return Outcome.say(view.title, body=body)


def register(router: Router) -> None:
    router.isms["help"] = lambda ctx, request: help.help_for(ctx, request.actor)
    router.isms["home"] = _home
    router.isms["processes"] = lambda ctx, request: processes.catalogue_summary(ctx, request.actor)
    router.isms["outbox"] = lambda ctx, request: delivery.undelivered(ctx, request.actor)

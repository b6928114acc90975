"""Chat entries of management reviews: ``/isms review new|decide|move|cancel``,
``/isms reviews``, the "Record decisions" button and the two forms."""

from __future__ import annotations

from workflows.kernel.paging import more_route
from workflows.kernel.routing import FormRoute, Request, Router
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context
from workflows.review import flows, forms, messages, service

USAGE = (
    "Usage: /isms review new | /isms review decide REV-<year>-<n> | /isms review move REV-<year>-<n> YYYY-MM-DD HH:MM"
    " | /isms review cancel REV-<year>-<n> <why>"
)


def _review(ctx: Context, request: Request) -> Outcome:
    verb, _, rest = request.text.strip().partition(" ")
    if verb.lower() == "new":
        return flows.open_new(ctx, request.actor)
    if verb.lower() == "decide":
        return flows.open_decide(ctx, request.actor, rest)
    if verb.lower() == "move":
        return flows.move(ctx, request.actor, rest, request.key)
    if verb.lower() == "cancel":
        return flows.cancel(ctx, request.actor, rest, request.key)
    return Outcome.say(USAGE)


def register(router: Router) -> None:
    router.isms["review"] = _review
    router.isms["reviews"] = lambda ctx, request: service.list_reviews(ctx, request.actor)
    router.actions[messages.MORE] = more_route({messages.LIST: service.list_reviews})
    router.actions[forms.DECIDE] = lambda ctx, request: flows.open_decide(ctx, request.actor, request.text)
    router.forms[forms.NEW] = FormRoute(
        lambda ctx, request: forms.validate_new(ctx.org, request.values, ctx.clock()),
        lambda ctx, request: flows.submit_new(ctx, request.actor, request.values, request.key),
    )
    router.forms[forms.DECIDE] = FormRoute(
        lambda ctx, request: forms.validate_decision(
            ctx.org, request.values, ctx.clock().astimezone(ctx.org.zone).date()
        ),
        lambda ctx, request: flows.submit_decision(ctx, request.actor, request.metadata, request.values, request.key),
    )

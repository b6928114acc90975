"""Chat entries of the improvement register: ``/isms suggest``, ``/isms improvements`` and the ISMS
manager's Accept and Decline (with its form)."""

from __future__ import annotations

from workflows.improvement import flows, forms, messages, service
from workflows.kernel.paging import more_route
from workflows.kernel.routing import FormRoute, Router


def register(router: Router) -> None:
    router.isms["suggest"] = lambda ctx, request: flows.suggest(ctx, request.actor, request.text, request.key)
    router.isms["improvements"] = lambda ctx, request: service.register(ctx, request.actor)
    router.actions[messages.MORE] = more_route({messages.REGISTER: service.register})
    router.actions[messages.ACCEPT] = lambda ctx, request: flows.accept(ctx, request.actor, request.text, request.key)
    router.actions[forms.DECLINE] = lambda ctx, request: flows.open_decline(ctx, request.actor, request.text)
    router.forms[forms.DECLINE] = FormRoute(
        lambda ctx, request: forms.validate_decline(request.values),
        lambda ctx, request: flows.decline(ctx, request.actor, request.metadata, request.values["reason"], request.key),
    )

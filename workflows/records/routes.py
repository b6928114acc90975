"""Chat entries of process REC: ``/isms outbox``, what the bot could not deliver."""

from __future__ import annotations

from workflows.kernel.paging import more_route
from workflows.kernel.routing import Router
from workflows.records.service import DEAD_LIST, MORE, undelivered


def register(router: Router) -> None:
    router.isms["outbox"] = lambda ctx, request: undelivered(ctx, request.actor)
    router.actions[MORE] = more_route({DEAD_LIST: undelivered})

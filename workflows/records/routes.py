"""Chat entries of process REC: ``/isms outbox``, what the bot could not deliver, and ``/isms bundle
[PERIOD]``, the evidence bundle for auditors."""

from __future__ import annotations

from workflows.kernel.paging import more_route
from workflows.kernel.routing import Router
from workflows.records.flows import bundle
from workflows.records.service import DEAD_LIST, MORE, undelivered


def register(router: Router) -> None:
    router.isms["outbox"] = lambda ctx, request: undelivered(ctx, request.actor)
    router.actions[MORE] = more_route({DEAD_LIST: undelivered})
    router.isms["bundle"] = lambda ctx, request: bundle(ctx, request.actor, request.text, request.key)

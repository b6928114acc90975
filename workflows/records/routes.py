"""Chat entries of process REC: ``/isms outbox``, what the bot could not deliver."""

from __future__ import annotations

from workflows.kernel.routing import Router
from workflows.records.service import undelivered


def register(router: Router) -> None:
    router.isms["outbox"] = lambda ctx, request: undelivered(ctx, request.actor)

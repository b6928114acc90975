"""Chat entries of process COM: ``/isms status [PROCESS]`` and its "in detail" buttons, and
``/isms report [weekly|monthly] [PERIOD]``."""

from __future__ import annotations

from workflows.communication.flows import report, status
from workflows.communication.messages import DETAIL
from workflows.kernel.routing import Router


def register(router: Router) -> None:
    router.isms["status"] = lambda ctx, request: status(ctx, request.actor, request.text)
    router.actions[DETAIL] = lambda ctx, request: status(ctx, request.actor, request.text)
    router.isms["report"] = lambda ctx, request: report(ctx, request.actor, request.text, request.key)

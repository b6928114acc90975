"""Chat entries of process PERF: ``/isms metrics [PERIOD]``."""

from __future__ import annotations

from workflows.kernel.routing import Router
from workflows.performance.service import metric_list


def register(router: Router) -> None:
    router.isms["metrics"] = lambda ctx, request: metric_list(ctx, request.actor, request.text)

"""Chat entries of the directory: ``/isms directory``."""

from __future__ import annotations

from workflows.directory.service import overview
from workflows.kernel.routing import Router


def register(router: Router) -> None:
    router.isms["directory"] = lambda ctx, request: overview(ctx, request.actor)

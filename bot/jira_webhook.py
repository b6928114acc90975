"""``POST /jira/webhook``: issue updates from Jira, applied to the changes they belong to.

Only a request carrying the shared secret (JIRA_WEBHOOK_SECRET) is processed (the check and the
reading of Jira's JSON are in ``integrations/jira_webhook.py``); anything else is a 401 and nothing is
read further. The body is capped by ``bot.http`` before this runs. Text from Jira is cleaned at this
edge like every other input (``bot.text``). Jira may deliver an update twice or out of order; the
workflow applies an update only when it is newer than the last one applied to that change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from bot.http import RefusalLog, WsgiApp
from bot.text import clean_tree
from config.settings import Settings
from integrations.jira_webhook import authentic, parse_update
from workflows.changes.flows import apply_tracker_update
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context

log = logging.getLogger(__name__)
PATH = "/jira/webhook"


class JiraWebhook:
    """The WSGI app behind ``POST /jira/webhook``."""

    def __init__(self, ctx: Context, secret: str):
        self._ctx = ctx
        self._secret = secret.encode()
        self._refusals = RefusalLog("Jira webhook requests without the shared secret (bodies not logged)")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)  # checked and capped by bot.http before this
        body = environ["wsgi.input"].read(length) if length else b""
        if not authentic(self._secret, environ.get("QUERY_STRING", ""), environ.get("HTTP_X_HUB_SIGNATURE", ""), body):
            self._refusals.refused()
            return _answer(start_response, "401 Unauthorized", {"error": "unauthorized"})
        try:
            payload = clean_tree(json.loads(body or b"{}"))
        except ValueError:
            payload = None
        update = parse_update(payload)
        if update is None:
            log.info("Jira webhook: ignored a request that is not an issue event")
            return _answer(start_response, "200 OK", {"applied": False, "reason": "not an issue event"})
        with self._ctx.work(SYSTEM) as work:
            applied = apply_tracker_update(work, update)
        return _answer(start_response, "200 OK", {"applied": applied})


def _answer(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def webhook_routes(settings: Settings, ctx: Context) -> dict[tuple[str, str], WsgiApp]:
    """The route when Jira and its webhook secret are configured; without a secret, only polling runs."""
    if not settings.jira_configured or settings.jira_webhook_secret is None:
        return {}
    return {("POST", PATH): JiraWebhook(ctx, settings.jira_webhook_secret.get_secret_value())}

"""``POST /jira/webhook``: issue updates from Jira, applied to the changes they belong to.

Only a request carrying the shared secret (JIRA_WEBHOOK_SECRET) is processed: either as the
``secret`` query parameter of the webhook URL, or as Jira Cloud's signed webhooks send it,
``X-Hub-Signature: sha256=<HMAC-SHA256 of the body>``. Both are compared in constant time; anything
else is a 401 and nothing is read further. Jira may deliver an update twice or out of order; the
workflow applies an update only when it is newer than the last one applied to that change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from config.settings import Settings
from integrations.jira_tracker import update_from_issue
from workflows.changes.flows import apply_tracker_update
from workflows.kernel.actors import SYSTEM
from workflows.kernel.work import Context

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_BODY = 1_000_000
PATH = "/jira/webhook"


def authentic(secret: bytes, query: str, signature: str, body: bytes) -> bool:
    """True if the query's ``secret`` or the body's HMAC signature matches the shared secret."""
    given = parse_qs(query).get("secret", [""])[0].encode()
    if given and hmac.compare_digest(given, secret):
        return True
    scheme, _, digest = signature.partition("=")
    if scheme.strip().lower() != "sha256" or not digest:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest.strip().lower().encode(), expected.encode())


class JiraWebhook:
    """The WSGI app behind ``POST /jira/webhook``."""

    def __init__(self, ctx: Context, secret: str):
        self._ctx = ctx
        self._secret = secret.encode()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            return _answer(start_response, "413 Payload Too Large", {"error": "body too large"})
        body = environ["wsgi.input"].read(length) if length else b""
        if not authentic(self._secret, environ.get("QUERY_STRING", ""), environ.get("HTTP_X_HUB_SIGNATURE", ""), body):
            log.warning("Jira webhook refused: missing or wrong secret")
            return _answer(start_response, "401 Unauthorized", {"error": "unauthorized"})
        try:
            payload = json.loads(body or b"{}")
            issue = payload["issue"]
            update = update_from_issue(
                str(issue["key"]),
                issue["fields"],
                payload.get("comment"),
                (payload.get("user") or {}).get("displayName"),
            )
        except (ValueError, KeyError, TypeError):
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

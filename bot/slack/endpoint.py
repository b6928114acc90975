"""``POST /slack/events``: the signature is checked here, before Bolt or anything else reads the body.

Bolt checks signatures too, but it logs the whole body of a request that fails (and a non-numeric
``X-Slack-Request-Timestamp`` makes it raise), so an unsigned request never reaches it: it gets a
401 and, at most once a minute, one log line with a count; its body is never logged. A signed request
that is still malformed (not JSON, not an object, a field of the wrong type, nothing listening for
it) gets a 200 and one log line, never a 500: Slack would only retry it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body

from bot.http import RefusalLog

log = logging.getLogger(__name__)
MAX_AGE = 5 * 60  # seconds; Slack's own rule for a replayed request

#: Top-level fields listeners and Bolt read, and the JSON type each must have when present.
_OBJECTS = ("event", "user", "view", "team", "channel", "message", "container", "enterprise")
_STRINGS = ("type", "command", "callback_id", "event_id", "trigger_id", "user_id", "text", "response_url")


def signed(secret: bytes, environ: dict[str, Any], body: bytes) -> bool:
    """Slack's ``v0`` signature over the timestamp and the raw body, with a timestamp under 5 minutes old.

    Computed on the bytes as received, so a body that is not even UTF-8 is simply unsigned.
    """
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = b"v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, signature.encode("latin-1", "replace"))


def envelope_problem(body: bytes, content_type: str | None) -> str | None:
    """Why a signed body cannot be handed to Bolt, or None when its envelope has the expected shape."""
    try:
        payload = parse_body(body.decode("utf-8"), content_type)
    except (UnicodeDecodeError, ValueError) as error:
        return f"not readable ({type(error).__name__})"
    if not isinstance(payload, dict):
        return f"a JSON {type(payload).__name__}, not an object"
    for name in _OBJECTS:
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            return f"{name} is a {type(payload[name]).__name__}"
    for name in _STRINGS:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            return f"{name} is a {type(payload[name]).__name__}"
    actions = payload.get("actions")
    if actions is not None:
        if not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
            return "actions is not a list of objects"
        if any(not isinstance(a.get("action_id", a.get("name")), str) for a in actions):
            return "an action without an action_id"
    event = payload.get("event")
    if isinstance(event, dict) and not isinstance(event.get("type"), str):
        return "event has no type"
    view = payload.get("view")
    if isinstance(view, dict):
        for name in ("id", "callback_id", "hash", "private_metadata"):
            if view.get(name) is not None and not isinstance(view[name], str):
                return f"view.{name} is a {type(view[name]).__name__}"
    return None


class SlackEndpoint:
    """The WSGI app behind ``POST /slack/events``: our checks first, then Bolt's WSGI adapter."""

    def __init__(self, bolt_app: App, signing_secret: str):
        self._bolt = SlackRequestHandler(bolt_app)
        self._secret = signing_secret.encode()
        self._refusals = RefusalLog("Slack requests without a valid signature (bodies not logged)")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)  # checked and capped by bot.http before this
        body = environ["wsgi.input"].read(length) if length else b""
        if not signed(self._secret, environ, body):
            self._refusals.refused()
            return _answer(start_response, "401 Unauthorized", {"error": "invalid request"})
        problem = envelope_problem(body, environ.get("CONTENT_TYPE"))
        if problem is not None:
            log.warning("ignored a signed Slack request: %s", problem)
            return _answer(start_response, "200 OK", None)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        answer: list[str] = []

        def keep_status(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            answer.append(status)
            if status.startswith("404"):  # nothing listens for it (Bolt logged what it was): not Slack's fault
                return start_response("200 OK", [("Content-Length", "0")], *rest)
            return start_response(status, headers, *rest)

        try:
            result = self._bolt(environ, keep_status)
        except Exception as error:  # Bolt could not build a request from a body that passed our checks
            if answer:
                raise
            log.warning("ignored a signed Slack request Bolt could not read (%s)", type(error).__name__)
            return _answer(start_response, "200 OK", None)
        return [] if answer and answer[0].startswith("404") else list(result)


def _answer(start_response: Callable[..., Any], status: str, body: dict[str, Any] | None) -> list[bytes]:
    payload = json.dumps(body).encode() if body is not None else b""
    headers = [("Content-Length", str(len(payload)))]
    if body is not None:
        headers.insert(0, ("Content-Type", "application/json"))
    start_response(status, headers)
    return [payload]

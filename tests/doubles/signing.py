"""Build and sign HTTP requests the way Slack sends them to an app.

The bot's HTTP endpoint rejects anything without a valid ``X-Slack-Signature``,
so end-to-end tests must sign exactly as Slack does. Signing with slack_sdk's
own ``SignatureVerifier`` keeps the double and the verifier from drifting
apart, and the body builders reproduce Slack's real field names and shapes so
Bolt routes the requests as it would in production.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from .slack_api import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"

#: The legacy verification token Slack still includes; Bolt ignores it.
VERIFICATION_TOKEN = "verification-token-test"
DEFAULT_CHANNEL_ID = "C0TEST"

#: Slack always sends a response_url. When a test passes none, this one points at
#: the discard port on localhost, so a stray respond() fails fast and visibly
#: instead of trying to reach hooks.slack.com.
UNUSED_RESPONSE_URL = "http://127.0.0.1:9/response/unused"

_sequence = itertools.count(1)


def _trigger_id() -> str:
    """A fresh id in Slack's ``<number>.<number>.<hex>`` trigger_id format."""
    return f"{int(time.time())}.{next(_sequence)}.{secrets.token_hex(16)}"


def _message_ts() -> str:
    return f"{int(time.time())}.{next(_sequence):06d}"


def _user(user_id: str) -> dict[str, str]:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}


def _team() -> dict[str, str]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _channel(channel_id: str) -> dict[str, str]:
    return {"id": channel_id, "name": _channel_name(channel_id)}


def _channel_name(channel_id: str) -> str:
    return "directmessage" if channel_id.startswith("D") else channel_id.lower()


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def signed_headers(
    secret: str,
    body: str | bytes,
    timestamp: int | None = None,
    content_type: str = FORM_CONTENT_TYPE,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: Content-Type, timestamp and ``v0=`` signature.

    ``timestamp`` defaults to now; pass an old one to test replay protection.
    """
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    if signature is None:
        raise ValueError("slack_sdk could not sign this body")
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
    }


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    channel_id: str = DEFAULT_CHANNEL_ID,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> str:
    """The form-encoded body of a slash command invocation, field for field as Slack posts it."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": _channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url or UNUSED_RESPONSE_URL,
            "trigger_id": trigger_id or _trigger_id(),
        }
    )


def interactivity_body(payload: dict[str, Any]) -> str:
    """Slack posts every interaction as a form with a single JSON-valued ``payload`` field."""
    return urlencode({"payload": _compact_json(payload)})


def block_actions_payload(
    user_id: str,
    action_id: str,
    value: str,
    message: dict[str, Any] | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
    *,
    block_id: str = "actions",
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button click (``block_actions``) on a message, or inside ``view`` when one is given.

    Clicks in a modal or the home tab carry the view and no channel, message or
    response_url, which is what decides whether a listener can ``respond()``.
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _trigger_id(),
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "action_ts": _message_ts(),
            }
        ],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "")}
        payload["view"] = view
        return payload
    message = message or {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "", "ts": _message_ts()}
    payload["container"] = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    payload["channel"] = _channel(channel_id)
    payload["message"] = message
    payload["response_url"] = response_url or UNUSED_RESPONSE_URL
    return payload


def view_submission_payload(
    user_id: str,
    callback_id: str,
    state_values: dict[str, Any],
    private_metadata: str = "",
    view_id: str | None = None,
    *,
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A modal submission; ``state_values`` is Slack's ``{block_id: {action_id: {type, value...}}}``."""
    view_id = view_id or f"V{next(_sequence):08d}"
    return {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state_values},
            "hash": secrets.token_hex(8),
            "title": {"type": "plain_text", "text": "ISMS"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "close": None,
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_suggestion_payload(
    user_id: str, action_id: str, block_id: str, value: str, callback_id: str = "", private_metadata: str = ""
) -> dict[str, Any]:
    """What Slack posts to the options URL while a person types in an ``external_select`` of a modal."""
    view_id = f"V{next(_sequence):08d}"
    return {
        "type": "block_suggestion",
        "user": _user(user_id),
        "container": {"type": "view", "view_id": view_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": {}},
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        },
    }


def message_shortcut_payload(
    user_id: str,
    callback_id: str,
    message: dict[str, Any],
    channel_id: str = DEFAULT_CHANNEL_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A message shortcut, which Slack still sends with the legacy type ``message_action``."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _message_ts(),
        "team": _team(),
        "user": _user(user_id),
        "channel": _channel(channel_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or _trigger_id(),
        "response_url": response_url or UNUSED_RESPONSE_URL,
        "message_ts": message.get("ts", ""),
        "message": message,
    }


def event_body(event: dict[str, Any], event_id: str, team_id: str = TEAM_ID) -> str:
    """The JSON ``event_callback`` envelope of the Events API around ``event``.

    ``event_id`` is explicit because Slack redelivers with the same id and
    deduplication tests need to control it.
    """
    return _compact_json(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": secrets.token_hex(16),
        }
    )


def post_signed(
    url: str,
    secret: str,
    body: str,
    content_type: str,
    timestamp: int | None = None,
    extra_headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """POST ``body`` signed with ``secret`` to the bot's endpoint; return ``(status, text)``.

    Error statuses are returned rather than raised because tests assert on them
    (e.g. 401 for a bad signature). ``extra_headers`` adds e.g. ``X-Slack-Retry-Num``.
    """
    headers = {**signed_headers(secret, body, timestamp, content_type), **(extra_headers or {})}
    request = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8")

"""Sending Slack's requests to the bot under test, signed as Slack signs them."""

from __future__ import annotations

from typing import Any

from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import (
    FORM_CONTENT_TYPE,
    block_suggestion_payload,
    interactivity_body,
    post_signed,
    slash_command_body,
)
from tests.doubles.slack_api import SlackApiDouble


class SlackUser:
    """One workspace member talking to the bot over signed HTTP, with replies read from the double."""

    def __init__(self, bot_url: str, slack: SlackApiDouble, user_id: str):
        self.url = bot_url + "/slack/events"
        self.slack = slack
        self.user_id = user_id
        self._count = 0

    def _response_url(self) -> str:
        self._count += 1
        return self.slack.response_url(f"{self.user_id}-{self._count}")

    def command(self, command: str, text: str = "", **extra: Any) -> tuple[int, str]:
        """Run a slash command; the bot's reply goes to the returned response_url."""
        response_url = extra.pop("response_url", None) or self._response_url()
        body = slash_command_body(command, text, self.user_id, response_url=response_url, **extra)
        status, _ = post_signed(self.url, SIGNING_SECRET, body, FORM_CONTENT_TYPE)
        return status, response_url

    def interact(self, payload: dict[str, Any], **extra_headers: str) -> int:
        status, _ = post_signed(
            self.url,
            SIGNING_SECRET,
            interactivity_body(payload),
            FORM_CONTENT_TYPE,
            extra_headers=extra_headers or None,
        )
        return status

    def suggest(self, action_id: str, block_id: str, value: str, callback_id: str = "") -> tuple[int, str]:
        """Type ``value`` into a modal's search box; returns the status and the options the bot answered."""
        payload = block_suggestion_payload(self.user_id, action_id, block_id, value, callback_id)
        return post_signed(self.url, SIGNING_SECRET, interactivity_body(payload), FORM_CONTENT_TYPE)

    def reply_text(self, response_url: str, timeout: float = 5.0) -> str:
        """All text of the ephemeral reply the bot posted to ``response_url`` (blocks included)."""
        name = response_url.rsplit("/", 1)[1]
        call = self.slack.wait_for(lambda c: c.path.endswith("/response/" + name), timeout=timeout)
        return text_of(call.args)


def text_of(args: dict[str, Any]) -> str:
    """Concatenate every text in a message's blocks (and its fallback text), as a person reads it."""
    parts = [args.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                parts.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(args.get("blocks") or [])
    return "\n".join(parts)

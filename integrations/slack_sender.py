"""The outbox sender for chat messages in Slack mode.

Maps the chat-neutral recipient (person, channel role, Slack user) to a Slack channel, renders the
message with the injected Block Kit renderer, and turns Slack's answers into the outbox's terms:
429 and 5xx and connection trouble are ``RetryLater`` (with Retry-After), errors no retry can fix
are ``Undeliverable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from config.organisation import Organisation
from storage.outbox import Effect, RetryLater, Undeliverable
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "user_not_found",
        "users_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "no_text",
        "cannot_dm_bot",
        "user_disabled",
        "message_not_found",
        "cant_update_message",
        "account_inactive",
        "file_not_found",
        "file_deleted",
    }
)


def make_web_client(token: str, base_url: str, timeout: int = 10) -> WebClient:
    """A WebClient with no retries of its own: the outbox owns the retry policy."""
    if not base_url.endswith("/"):
        base_url += "/"
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def slack_call(call: Callable[..., Any], **arguments: Any) -> Any:
    """Call a Web API method and translate failures into the outbox's two kinds."""
    try:
        return call(**arguments)
    except SlackApiError as error:
        status = error.response.status_code
        code = error.response.get("error", "") if isinstance(error.response.data, dict) else ""
        if status == 429:
            retry_after = error.response.headers.get("Retry-After") or error.response.headers.get("retry-after")
            raise RetryLater("Slack is throttling (429)", float(retry_after) if retry_after else 1.0) from None
        if code in PERMANENT_ERRORS:
            raise Undeliverable(f"Slack refused: {code}") from None
        raise RetryLater(f"Slack answered {status} {code}") from None
    except (SlackClientError, OSError) as error:
        raise RetryLater(f"Slack unreachable: {type(error).__name__}") from None


class SlackChatSender:
    """Sends ``chat.message`` effects with chat.postMessage / chat.update."""

    def __init__(
        self,
        client: WebClient,
        org: Organisation,
        render: Callable[[Message], list[dict[str, Any]]],
        fallback: Callable[[Message], str],
    ):
        self._client = client
        self._org = org
        self._render = render
        self._fallback = fallback

    def channel_for(self, to: str) -> str:
        try:
            recipient = Recipient.parse(to)
        except ValueError:
            raise Undeliverable(f"cannot reach {to!r} in Slack") from None
        kind, ident = recipient.kind, recipient.id
        if kind == "channel":
            channel = getattr(self._org.channels, ident, None)
            if channel is None:
                raise Undeliverable(f"no channel configured for {ident!r}")
            return channel
        if kind == "slack":
            return ident
        if kind == "person":
            person = self._org.person(ident)
            if person is None:
                raise Undeliverable(f"unknown person {ident!r}")
            if person.slack_id:
                return person.slack_id
            if person.email:
                return self._lookup_email(person.email)
        if kind == "email":
            return self._lookup_email(ident)
        raise Undeliverable(f"cannot reach {to!r} in Slack")

    def _lookup_email(self, email: str) -> str:
        answer = slack_call(self._client.users_lookupByEmail, email=email)
        return answer["user"]["id"]

    def _earlier(self, effect: Effect, key: str) -> Mapping[str, Any]:
        earlier = effect.result_of(key)
        if not earlier or "ts" not in earlier:
            raise RetryLater(f"message {key} is not sent yet")
        return earlier

    def __call__(self, effect: Effect) -> dict[str, Any]:
        payload = effect.payload
        message = Message.from_dict(payload["message"])
        content = {"text": self._fallback(message), "blocks": self._render(message)}
        if "replaces" in payload:
            earlier = self._earlier(effect, payload["replaces"])
            slack_call(self._client.chat_update, channel=earlier["channel"], ts=earlier["ts"], **content)
            return {"channel": earlier["channel"], "ts": earlier["ts"]}
        arguments: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False, **content}
        if "thread_of" in payload:
            root = self._earlier(effect, payload["thread_of"])
            arguments.update(channel=root["channel"], thread_ts=root["ts"])
        else:
            arguments["channel"] = self.channel_for(payload["to"])
        answer = slack_call(self._client.chat_postMessage, **arguments)
        return {"channel": answer["channel"], "ts": answer["ts"]}

"""The outbox sender for chat messages in Slack mode.

Maps the chat-neutral recipient (person, channel role, Slack user) to a Slack channel, renders the
message with the injected Block Kit renderer, and turns Slack's answers into the outbox's terms:
429 and 5xx and connection trouble are ``RetryLater`` (with Retry-After), errors no retry can fix
are ``Undeliverable``.

Posts are idempotent: every message carries its outbox key in Slack's message metadata
(``{"event_type": "isms_outbox", "event_payload": {"key": ...}}``). When an earlier attempt may have
reached Slack without an answer (a 5xx after posting, a timeout, a crash between the call and the
mark), the sender first reads the conversation since that attempt (``conversations.history``, or
``conversations.replies`` for a thread, with ``include_all_metadata``, a few pages at most) and adopts
the message it finds instead of posting again. Updates set the same content on the same message, so
repeating one changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from config.organisation import Organisation
from storage.outbox import Effect, RetryLater, Undeliverable
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message

log = logging.getLogger(__name__)

METADATA_EVENT = "isms_outbox"
"""The event type of the metadata that carries an outbox key on every message the bot posts."""

LOOKUP_PAGES = 5
LOOKUP_PAGE_SIZE = 200
"""A look-up reads at most this many pages of this many messages, newest first (1,000 messages)."""

CLOCK_SKEW = timedelta(minutes=2)
"""How far before the unsure attempt a look-up starts reading, for the difference of our clock and Slack's."""

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


def _never_arrived(error: BaseException) -> bool:
    """A connection Slack never accepted: the request cannot have had any effect."""
    reason = error.reason if isinstance(error, URLError) else error
    return isinstance(reason, ConnectionRefusedError) and not isinstance(reason, RemoteDisconnected)


def slack_call(call: Callable[..., Any], **arguments: Any) -> Any:
    """Call a Web API method and translate failures into the outbox's two kinds.

    Only a 429 and a refused connection say that Slack did nothing; after a 5xx, a timeout or a
    connection closed without an answer the call may have taken effect (``maybe_delivered``).
    """
    try:
        return call(**arguments)
    except (SlackClientError, OSError) as error:
        raise translate(error) from None


def translate(error: SlackClientError | OSError) -> RetryLater | Undeliverable:
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        code = error.response.get("error", "") if isinstance(error.response.data, dict) else ""
        if status == 429:
            retry_after = error.response.headers.get("Retry-After") or error.response.headers.get("retry-after")
            return RetryLater(
                "Slack is throttling (429)", float(retry_after) if retry_after else 1.0, maybe_delivered=False
            )
        if code in PERMANENT_ERRORS:
            return Undeliverable(f"Slack refused: {code}")
        return RetryLater(f"Slack answered {status} {code}")
    never = isinstance(error, OSError) and _never_arrived(error)
    return RetryLater(f"Slack unreachable: {type(error).__name__}", maybe_delivered=not never)


def earlier_result(effect: Effect, key: str, field: str) -> Mapping[str, Any]:
    """The answer of the earlier effect ``key`` (a post, a created channel), once it holds ``field``;
    until then the effect waits (nothing was sent, so the next attempt needs no look-up)."""
    earlier = effect.result_of(key)
    if not earlier or field not in earlier:
        raise RetryLater(f"{key} is not sent yet", maybe_delivered=False)
    return earlier


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
            return str(channel)
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
        return str(answer["user"]["id"])

    def _earlier(self, effect: Effect, key: str, field: str = "ts") -> Mapping[str, Any]:
        return earlier_result(effect, key, field)

    def __call__(self, effect: Effect) -> dict[str, Any]:
        payload = effect.payload
        message = Message.from_dict(payload["message"])
        content = {"text": self._fallback(message), "blocks": self._render(message)}
        if "replaces" in payload:
            earlier = self._earlier(effect, payload["replaces"])
            slack_call(self._client.chat_update, channel=earlier["channel"], ts=earlier["ts"], **content)
            return {"channel": earlier["channel"], "ts": earlier["ts"]}
        arguments: dict[str, Any] = {
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": effect.key}},
            **content,
        }
        if "thread_of" in payload:
            root = self._earlier(effect, payload["thread_of"])
            arguments.update(channel=root["channel"], thread_ts=root["ts"])
        elif "in_channel_of" in payload:  # a channel the bot created (an incident's): its id came back
            arguments["channel"] = self._earlier(effect, payload["in_channel_of"], "channel")["channel"]
        else:
            arguments["channel"] = self.channel_for(payload["to"])
        if effect.unsure_since is not None:
            found = self.find_posted(effect.key, arguments["channel"], arguments.get("thread_ts"), effect.unsure_since)
            if found is not None:
                log.info("outbox effect %s was already posted (%s); adopting it", effect.key, found["ts"])
                return found
        answer = slack_call(self._client.chat_postMessage, **arguments)
        return {"channel": answer["channel"], "ts": answer["ts"]}

    def find_posted(self, key: str, channel: str, thread_ts: str | None, since: datetime) -> dict[str, Any] | None:
        """The message an earlier attempt posted with this outbox key, if Slack has it.

        Reads the conversation (a thread's replies for a threaded post) from a little before
        ``since``, newest first, at most ``LOOKUP_PAGES`` pages. A conversation the bot cannot read
        (a missing scope, say) is logged and treated as "not found": the post then goes out again,
        at least once rather than never. Throttling or an outage of the look-up retries the effect.
        """
        oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
        try:
            if channel[:1] in ("U", "W"):  # a DM by user id: its history is under the DM channel's id
                opened = slack_call(self._client.conversations_open, users=channel)
                channel = opened["channel"]["id"]
            cursor: str | None = None
            for _ in range(LOOKUP_PAGES):
                page = self._page(channel, thread_ts, oldest, cursor)
                for message in page.get("messages") or ():
                    metadata = message.get("metadata") or {}
                    if (
                        metadata.get("event_type") == METADATA_EVENT
                        and (metadata.get("event_payload") or {}).get("key") == key
                    ):
                        return {"channel": channel, "ts": message["ts"]}
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return None
        except Undeliverable as error:
            log.warning("cannot look up earlier posts of %s in %s (%s): posting again", key, channel, error)
            return None
        log.warning(
            "no earlier post of %s among the newest %d messages of %s: posting again",
            key,
            LOOKUP_PAGES * LOOKUP_PAGE_SIZE,
            channel,
        )
        return None

    def _page(self, channel: str, thread_ts: str | None, oldest: str, cursor: str | None) -> Any:
        try:
            if thread_ts is not None:
                return self._client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=LOOKUP_PAGE_SIZE,
                    cursor=cursor,
                )
            return self._client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=LOOKUP_PAGE_SIZE, cursor=cursor
            )
        except (SlackClientError, OSError) as error:
            translated = translate(error)
            if isinstance(error, SlackApiError) and error.response.status_code == 200:
                # Refused for good (missing_scope, not_in_channel, channel_not_found, ...)
                translated = Undeliverable(str(error.response.get("error", "")))
            raise translated from None

"""The outbox sender for incident channels: create (or find) a private channel, invite people, pin a
message, archive the channel.

Each effect is safe to repeat, because Slack's own answers say what is already done: a channel whose
name is taken by a channel the bot is in is the one an earlier attempt created (its answer was lost
in a crash or a timeout), so it is looked up with conversations.list and adopted; ``already_in_channel``,
``already_pinned`` and ``already_archived`` are successes. Effects that need the channel (or the
pinned message) wait until the effect that creates it was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from integrations.slack_sender import earlier_result, translate
from storage.outbox import Effect, Undeliverable
from workflows.incidents.rooms import ARCHIVE_KIND, CHANNEL_KIND, INVITE_KIND, PIN_KIND

log = logging.getLogger(__name__)

ROOM_KINDS = (CHANNEL_KIND, INVITE_KIND, PIN_KIND, ARCHIVE_KIND)

TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
"""Errors Slack answers with HTTP 200 that a later attempt may not get; any other error is for good."""

DONE_ALREADY = frozenset({"already_in_channel", "already_pinned", "already_archived", "cant_invite_self"})

LIST_PAGES = 10
"""conversations.list pages (of 200) read to find a channel whose name was taken."""


def _code(error: SlackApiError) -> str:
    data = error.response.data
    return str(data.get("error") or "") if isinstance(data, dict) else ""


class SlackRoomSender:
    """Sends ``slack.channel``, ``slack.invite``, ``slack.pin`` and ``slack.archive`` effects.

    ``user_of`` turns a person id of the organisation file into a Slack user id (the chat sender's
    look-up: the file's Slack id, else by e-mail)."""

    def __init__(self, client: WebClient, user_of: Callable[[str], str]):
        self._client = client
        self._user_of = user_of

    def _call(self, call: Callable[..., Any], **arguments: Any) -> tuple[Any, str]:
        """(answer, "") or (None, error code) for an error a repeat of the call would meet again."""
        try:
            return call(**arguments), ""
        except SlackApiError as error:
            code = _code(error)
            if error.response.status_code == 200 and code and code not in TRANSIENT:
                return None, code
            raise translate(error) from None
        except (SlackClientError, OSError) as error:
            raise translate(error) from None

    def __call__(self, effect: Effect) -> dict[str, Any]:
        payload = effect.payload
        if effect.kind == CHANNEL_KIND:
            return self._create(str(payload["name"]))
        if effect.kind == INVITE_KIND:
            channel = earlier_result(effect, payload["room"], "channel")["channel"]
            user = self._user_of(str(payload["person"]))
            return self._done(self._call(self._client.conversations_invite, channel=channel, users=user), channel)
        if effect.kind == PIN_KIND:
            message = earlier_result(effect, payload["message"], "ts")
            channel = message["channel"]
            return self._done(self._call(self._client.pins_add, channel=channel, timestamp=message["ts"]), channel)
        if effect.kind == ARCHIVE_KIND:
            channel = earlier_result(effect, payload["room"], "channel")["channel"]
            return self._done(self._call(self._client.conversations_archive, channel=channel), channel)
        raise Undeliverable(f"no room effect {effect.kind!r}")

    @staticmethod
    def _done(answer: tuple[Any, str], channel: str) -> dict[str, Any]:
        _, code = answer
        if code and code not in DONE_ALREADY:
            raise Undeliverable(f"Slack refused: {code}")
        return {"channel": channel}

    def _create(self, name: str) -> dict[str, Any]:
        answer, code = self._call(self._client.conversations_create, name=name, is_private=True)
        if answer is not None:
            return {"channel": answer["channel"]["id"], "name": name}
        if code != "name_taken":
            raise Undeliverable(f"Slack refused to create #{name}: {code}")
        found = self._find(name)
        if found is None:
            raise Undeliverable(f"#{name} exists already and the bot is not in it")
        log.info("channel #%s existed already (%s): adopting it", name, found)
        return {"channel": found, "name": name}

    def _find(self, name: str) -> str | None:
        """The id of the private channel ``name`` among those the bot is in (an earlier attempt's)."""
        cursor = ""
        for _ in range(LIST_PAGES):
            page, code = self._call(
                self._client.conversations_list,
                types="private_channel",
                exclude_archived=True,
                limit=200,
                cursor=cursor or None,
            )
            if page is None:
                raise Undeliverable(f"cannot list channels to find #{name}: {code}")
            for channel in page.get("channels") or ():
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return None
        return None

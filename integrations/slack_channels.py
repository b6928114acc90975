"""Who is in a Slack channel (the channel port of ``workflows/kernel/channels.py``), for campaign
audiences such as ``channel:#engineering``.

Calls are kept few: ``conversations.members`` a page of up to 200 ids at a time, ``users.info`` only
for members the organisation file does not list by Slack id (to leave bots out and to match people by
e-mail), the bot's own id from one ``auth.test``, and ``conversations.list`` only when a channel is
named rather than given by id.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from workflows.kernel.channels import ChannelMember, ChannelsUnavailable, UnknownChannel

PAGE = 200  # Slack's advice for cursor paging; conversations.members allows up to 1000
LIST_PAGE = 1000
NOT_FOUND = frozenset({"channel_not_found", "not_in_channel", "user_not_found"})
"""Answers that mean "no such thing, or hidden from the bot"; any other failure means Slack cannot answer now."""


class SlackChannels:
    """The channel port over the Web API; raises ChannelsUnavailable when Slack cannot answer."""

    def __init__(self, client: WebClient):
        self._client = client
        self._bot_id: str | None = None

    def channel_id(self, name: str) -> str | None:
        """Public channels and the private ones the bot is in, archived ones left out."""
        cursor = ""
        while True:
            answer = self._call(
                self._client.conversations_list,
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=LIST_PAGE,
                cursor=cursor or None,
            )
            channels = (answer or {}).get("channels") or []
            found = next((c["id"] for c in channels if c.get("name") == name), None)
            cursor = _next_cursor(answer)
            if found or not cursor:
                return found

    def members(self, channel_id: str, known: Collection[str] = ()) -> list[ChannelMember]:
        ids: list[str] = []
        cursor = ""
        while True:
            answer = self._call(
                self._client.conversations_members, channel=channel_id, limit=PAGE, cursor=cursor or None
            )
            if answer is None:
                raise UnknownChannel(channel_id)
            ids += [str(user) for user in answer.get("members") or []]
            cursor = _next_cursor(answer)
            if not cursor:
                break
        bot = self._own_id()
        found: list[ChannelMember] = []
        for user_id in dict.fromkeys(ids):  # once each, in Slack's order
            if user_id == bot:
                continue
            if user_id in known:
                found.append(ChannelMember(user_id))
                continue
            user = (self._call(self._client.users_info, user=user_id) or {}).get("user") or {}
            if user.get("is_bot") or user.get("deleted"):
                continue
            found.append(ChannelMember(user_id, (user.get("profile") or {}).get("email")))
        return found

    def _own_id(self) -> str | None:
        if self._bot_id is None:
            self._bot_id = str((self._call(self._client.auth_test) or {}).get("user_id") or "")
        return self._bot_id or None

    @staticmethod
    def _call(method: Callable[..., Any], **arguments: Any) -> dict[str, Any] | None:
        """Slack's answer, or None when it says the channel or user does not exist for the bot."""
        try:
            data = method(**{key: value for key, value in arguments.items() if value is not None}).data
        except SlackApiError as error:
            code = error.response.get("error", "") if isinstance(error.response.data, dict) else ""
            if code in NOT_FOUND:
                return None
            raise ChannelsUnavailable(f"Slack answered {code or error.response.status_code}") from None
        except (SlackClientError, OSError) as error:
            raise ChannelsUnavailable(f"Slack is unreachable: {type(error).__name__}") from None
        return data if isinstance(data, dict) else {}


def _next_cursor(answer: dict[str, Any] | None) -> str:
    return str(((answer or {}).get("response_metadata") or {}).get("next_cursor") or "")

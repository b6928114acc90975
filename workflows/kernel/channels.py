"""The channel port: who is in a Slack channel, for audiences such as "everybody in #engineering".

Workflows see only this protocol; ``integrations/slack_channels.py`` implements it with the Web API
and the Slack runtime plugs it into ``Context.channels``. The console has no Slack, so it stays None
there and such audiences are refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChannelMember:
    """A person in a channel: their Slack user id and, when Slack was asked, their e-mail."""

    slack_id: str
    email: str | None = None


class ChannelsUnavailable(Exception):
    """Slack cannot answer now (down, throttling); the message says so for the person who asked."""


class UnknownChannel(Exception):
    """Slack knows no such channel, or the bot may not see it (a private channel it is not in)."""


class ChannelMembers(Protocol):
    def channel_id(self, name: str) -> str | None:
        """The id of the channel called ``name`` (without ``#``), None when Slack shows none by that name."""
        ...

    def members(self, channel_id: str, known: Collection[str] = ()) -> list[ChannelMember]:
        """The people in a channel, bots left out. Ids in ``known`` (people the organisation file
        lists by Slack id) are not looked up one by one, which keeps the calls to Slack few."""
        ...

"""Where people are: their timezone from their Slack profile (users.info ``tz``), for quiet hours."""

from __future__ import annotations

from slack_sdk import WebClient

from integrations.slack_sender import slack_call
from workflows.kernel.timezones import TimezoneLookup


def slack_timezones(client: WebClient) -> TimezoneLookup:
    """The lookup port of workflows.timezones; raises RetryLater/Undeliverable when Slack cannot say."""

    def lookup(user_id: str) -> str | None:
        answer = slack_call(client.users_info, user=user_id)
        tz = answer["user"].get("tz")
        return tz if isinstance(tz, str) and tz else None

    return lookup

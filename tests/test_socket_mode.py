"""Socket Mode end to end: the bot opens a WebSocket to (a double of) Slack and answers envelopes."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.server import SocketBot
from config.errors import ConfigError
from tests.doubles.socket_mode import SocketModeDouble
from tests.slack_client import text_of


@pytest.fixture
def socket_bot(slack_settings, slack, clock):
    with SocketModeDouble() as socket:
        slack.socket_url = socket.url
        settings = slack_settings.model_copy(update={"slack_app_token": SecretStr(slack.app_token)})
        with SocketBot(settings, clock=clock) as bot:
            socket.wait_connected()
            yield bot, socket


def test_slash_command_over_socket_mode_is_acked_and_answered(socket_bot, slack):
    _, socket = socket_bot
    envelope = socket.send(
        "slash_commands",
        {
            "command": "/isms",
            "text": "help",
            "user_id": "U0ERIN",
            "user_name": "erin",
            "team_id": "T000TEST",
            "channel_id": "C0TEST",
            "trigger_id": "1.2.socket",
            "response_url": slack.response_url("socket"),
            "api_app_id": "A000TEST",
        },
    )
    assert socket.wait_ack(envelope)["envelope_id"] == envelope
    reply = slack.wait_for(lambda call: call.path.endswith("/response/socket"))
    assert "/incident" in text_of(reply.args) and "/isms outbox" not in text_of(reply.args)
    connection = slack.calls_to("apps.connections.open")[0]
    assert connection.headers["authorization"] == f"Bearer {slack.app_token}"


def test_socket_mode_needs_the_app_token(slack_settings):
    with pytest.raises(ConfigError) as caught:
        SocketBot(slack_settings)
    assert caught.value.problems == [("SLACK_APP_TOKEN", "is required for this mode")]

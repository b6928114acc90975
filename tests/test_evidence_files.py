"""The Slack file adapter: files.info, then the download with the bot token, hashed as it streams;
and what it refuses (too large, a login page instead of the file, a host that is not Slack)."""

from __future__ import annotations

import hashlib

import pytest

from integrations.slack_files import SlackFileSender
from integrations.slack_sender import make_web_client
from storage.outbox import Effect, Undeliverable
from tests.conftest import BOT_TOKEN

CONTENT = b"%PDF-1.7 penetration test report\n" * 1000


def fetch(sender: SlackFileSender, file_id: str, max_bytes: int = 10_000_000) -> dict:  # type: ignore[type-arg]
    return sender(
        Effect(
            "slack.file", f"evidence-file:{file_id}", {"file_id": file_id, "max_bytes": max_bytes}, 1, lambda key: None
        )
    )


def sender_for(slack, token: str = BOT_TOKEN, api_url: str | None = None) -> SlackFileSender:  # type: ignore[no-untyped-def]
    return SlackFileSender(make_web_client(BOT_TOKEN, slack.base_url), token, api_url or slack.base_url)


def test_a_file_is_downloaded_with_the_bot_token_and_hashed(slack):
    slack.add_file("F0PENTEST", "pentest-2026.pdf", CONTENT)
    answer = fetch(sender_for(slack), "F0PENTEST")
    assert answer == {
        "name": "pentest-2026.pdf",
        "size": len(CONTENT),
        "sha256": hashlib.sha256(CONTENT).hexdigest(),
        "mimetype": "application/pdf",
    }
    assert slack.calls_to("file_download")[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"


def test_refusals_are_final_and_say_why(slack):
    slack.add_file("F0PENTEST", "pentest-2026.pdf", CONTENT)
    cases = [
        (
            sender_for(slack),
            "F0PENTEST",
            1000,
            f"pentest-2026.pdf has {len(CONTENT)} bytes, more than the 1000 allowed",
        ),
        (sender_for(slack), "F0GONE", 1000, "Slack refused: file_not_found"),
        (
            sender_for(slack, token="xoxb-not-the-bot"),
            "F0PENTEST",
            10_000_000,
            "Slack answered with its login page: the bot token lacks files:read",
        ),
        (
            sender_for(slack, api_url="https://slack.com/api/"),
            "F0PENTEST",
            10_000_000,
            "refusing to send the bot token to 127.0.0.1",
        ),
    ]
    for sender, file_id, max_bytes, reason in cases:
        with pytest.raises(Undeliverable) as refused:
            fetch(sender, file_id, max_bytes)
        assert str(refused.value) == reason
    downloads = slack.calls_to("file_download")
    assert [call.headers.get("authorization") for call in downloads] == ["Bearer xoxb-not-the-bot"]

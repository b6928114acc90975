"""The Slack app manifest declares what the bot's listeners expect, so an admin can create it in one paste."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).parents[1] / "bot" / "slack" / "manifest.yaml"


def test_manifest_declares_commands_shortcut_home_and_events():
    manifest = yaml.safe_load(MANIFEST.read_text())
    features = manifest["features"]
    assert {c["command"] for c in features["slash_commands"]} == {"/incident", "/isms"}
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [("message", "report_incident")]
    assert features["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "users:read", "users:read.email", "files:read"} <= scopes
    urls = {c["url"] for c in features["slash_commands"]} | {manifest["settings"]["interactivity"]["request_url"]}
    assert all(url.endswith("/slack/events") for url in urls)

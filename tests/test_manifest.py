"""The Slack app manifest declares what the bot's listeners expect, so an admin can create it in one
paste: only commands and shortcuts that exist, the events the bot listens to, and exactly the scopes
the Web API methods called from the code need (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.server import BotServer
from tests.conftest import SIGNING_SECRET
from tests.doubles.signing import event_body, post_signed
from tests.slack_client import text_of
from tests.support import eventually
from workflows.kernel.process import build_router
from workflows.registry import PROCESSES

ROOT = Path(__file__).parents[1]
MANIFEST = ROOT / "bot" / "slack" / "manifest.yaml"

METHOD_SCOPES: dict[str, frozenset[str]] = {
    # Web API method -> the bot scopes it needs (https://api.slack.com/methods). A method the code
    # starts calling must be added here, which makes the scope a conscious choice.
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.getPermalink": frozenset(),
    "conversations.open": frozenset({"im:write"}),  # DMs only; channels would need channels:manage
    "conversations.history": frozenset({"channels:history", "groups:history", "im:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history", "im:history"}),
    # The bot creates only private channels (is_private), which need groups:* rather than channels:*.
    "conversations.create": frozenset({"groups:write"}),
    "conversations.invite": frozenset({"groups:write"}),
    "conversations.archive": frozenset({"groups:write"}),
    # public and private channels: the incident room (private) and a campaign audience named #name
    "conversations.list": frozenset({"channels:read", "groups:read"}),
    "conversations.members": frozenset({"channels:read", "groups:read"}),  # a campaign for a channel's members
    "auth.test": frozenset(),
    "conversations.join": frozenset({"channels:join"}),
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "pins.add": frozenset({"pins:write"}),
    "pins.remove": frozenset({"pins:write"}),
    "users.info": frozenset({"users:read", "users:read.email"}),  # the e-mail is read from the profile
    "users.lookupByEmail": frozenset({"users:read.email"}),
    "files.info": frozenset({"files:read"}),  # and the download of url_private, same scope
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "views.open": frozenset(),
    "views.publish": frozenset(),
    "views.update": frozenset(),
}
EVENT_SCOPES = {"app_home_opened": frozenset(), "message.im": frozenset({"im:history"})}
FEATURE_SCOPES = frozenset({"commands"})  # slash commands and shortcuts
FAMILIES = (
    "admin|apps|auth|bookmarks|bots|chat|conversations|dnd|emoji|files|pins|reactions|reminders|search|team"
    "|usergroups|users|views"
)
CALL = re.compile(rf"(?:client|_client)\.((?:{FAMILIES})_[A-Za-z_]+)\b|api_call\(\s*[\"']([a-z]+\.[A-Za-z.]+)[\"']")


def manifest() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(MANIFEST.read_text())


def methods_called() -> set[str]:
    """Every Slack Web API method named in bot/ and integrations/ (``client.chat_postMessage`` and
    ``slack_call(self._client.users_info, ...)`` alike)."""
    found: set[str] = set()
    for folder in ("bot", "integrations"):
        for path in (ROOT / folder).rglob("*.py"):
            for sdk_name, api_name in CALL.findall(path.read_text()):
                found.add(api_name or sdk_name.replace("_", "."))
    return found


def test_manifest_declares_commands_shortcut_home_and_events():
    declared = manifest()
    features = declared["features"]
    router = build_router(PROCESSES)
    assert {c["command"] for c in features["slash_commands"]} == set(router.commands) | {"/isms"}
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [
        ("message", callback) for callback in router.shortcuts
    ]
    isms = next(c for c in features["slash_commands"] if c["command"] == "/isms")
    advertised = {word.strip() for word in isms["usage_hint"].split("|")}
    assert advertised <= set(router.isms), advertised - set(router.isms)
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False
    assert set(declared["settings"]["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    assert declared["settings"]["interactivity"]["is_enabled"] is True
    urls = {c["url"] for c in features["slash_commands"]} | {declared["settings"]["interactivity"]["request_url"]}
    assert all(url.endswith("/slack/events") for url in urls)


def test_scopes_are_exactly_what_the_methods_called_need():
    called = methods_called()
    assert {"chat.postMessage", "conversations.open", "users.lookupByEmail", "files.info", "views.open"} <= called
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"add {sorted(unknown)} to METHOD_SCOPES with the scopes Slack documents"
    needed = set(FEATURE_SCOPES).union(*(METHOD_SCOPES[m] for m in called), *EVENT_SCOPES.values())
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed


def test_a_message_to_the_bot_is_answered_with_the_help_text(bot: BotServer, slack):  # type: ignore[no-untyped-def]
    ours = {"type": "message", "channel_type": "im", "channel": "D0ERIN", "bot_id": "B0ISMS", "text": "x", "ts": "2.0"}
    body = event_body(ours, "EvDm0")  # the bot's own post in the DM comes back as an event too: no answer
    assert post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, "application/json")[0] == 200
    event = {"type": "message", "channel_type": "im", "channel": "D0ERIN", "user": "U0ERIN", "text": "hi", "ts": "3.0"}
    body = event_body(event, "EvDm1")
    assert post_signed(bot.url + "/slack/events", SIGNING_SECRET, body, "application/json")[0] == 200

    answers = eventually(lambda: [text_of(m) for m in slack.messages_to("U0ERIN")])
    assert len(answers) == 1
    assert "/incident" in answers[0] and "/isms" in answers[0]

"""From a Slack payload to the router call it asks for, the same in the request thread and in an
intake worker that reads the payload back from the database.

``parse`` reads only the payload, so a signed payload that lacks a field fails it (``KeyError``,
``TypeError``) in the request thread, before anything is stored; ``Job.request`` resolves the person
(which may ask Slack for their e-mail) and, for a message shortcut, the message's permalink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk import WebClient

from bot.slack.blocks import view_values
from bot.slack.home import acted_on_home
from integrations.slack_sender import METADATA_EVENT, slack_call
from storage.outbox import RetryLater, Undeliverable
from workflows.kernel.actors import Actor
from workflows.kernel.routing import Request, Router, SourceMessage
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context

Kind = Literal["command", "action", "view", "shortcut", "message"]
ActorOf = Callable[[str, str | None], Actor]


@dataclass(frozen=True)
class Job:
    """One person's input from Slack: who, what to call, and where the answer goes."""

    kind: Kind
    key: str
    """The request key (``Request.key``) and the intake row's unique key, from Slack's own ids."""
    user_id: str
    body: dict[str, Any]
    """The payload as Bolt parsed it and ``bot.text.clean`` cleaned it: what the intake stores."""
    route: str
    """The command, action id, form callback id or shortcut callback id."""

    @property
    def response_url(self) -> str | None:
        url = self.body.get("response_url")
        # a signed but malformed URL: the answer goes by DM instead
        return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None

    @property
    def trigger_id(self) -> str | None:
        return self.body.get("trigger_id")

    @property
    def refreshes_home(self) -> bool:
        """A form submission, or a button on the App Home itself: the Home is published again after it."""
        return self.kind == "view" or (self.kind == "action" and acted_on_home(self.body))

    def request(self, actor_of: ActorOf, client: WebClient) -> Request:
        body = self.body
        if self.kind == "command":
            return Request(actor_of(self.user_id, body.get("user_name")), self.key, text=body.get("text") or "")
        actor = actor_of(self.user_id, None)
        if self.kind == "action":
            return Request(actor, self.key, text=body["actions"][0].get("value") or "")
        if self.kind == "view":
            view = body["view"]
            return Request(
                actor, self.key, values=view_values(view.get("state", {})), metadata=view.get("private_metadata") or ""
            )
        if self.kind == "shortcut" and body.get("type") == "message_action":
            message = body.get("message", {})
            channel = body.get("channel", {}).get("id")
            source = SourceMessage(
                text=message.get("text", ""),
                author=message.get("user"),
                permalink=_permalink(client, channel, message.get("ts")),
                channel=channel,
                ts=message.get("ts"),
                thread_of=_thread_root_key(client, channel, message),
            )
            return Request(actor, self.key, source=source)
        return Request(actor, self.key)

    def run(self, router: Router, ctx: Context, request: Request) -> Outcome:
        if self.kind == "command":
            return router.command(ctx, self.route, request)
        if self.kind == "action":
            return router.action(ctx, self.route, request)
        if self.kind == "view":
            return router.submit_form(ctx, self.route, request)
        if self.kind == "shortcut":
            return router.shortcut(ctx, self.route, request)
        return router.command(ctx, "/isms", request)  # a DM to the bot: no text, so /isms help


def parse(kind: Kind, body: dict[str, Any]) -> Job:
    """The job a payload asks for; ``KeyError``/``TypeError`` when a field it needs is missing."""
    if kind == "command":
        return Job(kind, f"command:{body.get('trigger_id')}", body["user_id"], body, body["command"])
    if kind == "action":
        action = body["actions"][0]
        stamp = action.get("action_ts") or body.get("trigger_id")
        return Job(kind, f"action:{action['action_id']}:{stamp}", body["user"]["id"], body, action["action_id"])
    if kind == "view":
        view = body["view"]
        return Job(kind, f"view:{view['id']}:{view.get('hash', '')}", body["user"]["id"], body, view["callback_id"])
    if kind == "shortcut":
        return Job(kind, f"shortcut:{body.get('trigger_id')}", body["user"]["id"], body, body["callback_id"])
    event = body["event"]
    return Job(kind, f"message:{event.get('channel')}:{event.get('ts')}", event["user"], body, "/isms")


def _permalink(client: WebClient, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        return str(slack_call(client.chat_getPermalink, channel=channel, message_ts=ts)["permalink"])
    except (RetryLater, Undeliverable):
        return None


def _thread_root_key(client: WebClient, channel: str | None, message: dict[str, Any]) -> str | None:
    """The outbox key of the bot's post that ``message`` replies to in a thread (an incident's triage
    post, say), read from that post's metadata; None for a message outside a thread or under a post
    that is not the bot's."""
    thread_ts = message.get("thread_ts")
    if not channel or not thread_ts or thread_ts == message.get("ts"):
        return None
    try:
        page = slack_call(
            client.conversations_replies, channel=channel, ts=thread_ts, limit=1, include_all_metadata=True
        )
    except (RetryLater, Undeliverable):
        return None
    root = (page.get("messages") or [{}])[0]
    metadata = root.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    key = (metadata.get("event_payload") or {}).get("key")
    return str(key) if key else None

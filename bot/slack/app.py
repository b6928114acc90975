"""The Bolt app: thin listeners that hand plain arguments to the router and deliver its outcome.

The acknowledgement waits for the write. A listener runs in the thread that received the request and
Slack's answer leaves when the listener returns, so an acknowledged report is stored, with its reply
queued in the outbox: a crash before that answer leaves Slack showing the person that the command
failed, never an acknowledgement of something lost. (Acking first and writing after would need a
durable intake queue to survive a crash; the write of a report takes milliseconds, well inside
Slack's 3 s.) Form validation travels in the acknowledgement so Slack shows errors on the fields.

Delivery (``handle``): ``views.open`` is inline (its trigger lasts 3 s); when Slack refuses or
throttles it, the person gets a message saying what to do instead (``Form.fallback``). A reply that
follows a stored change (any write transaction committed while the workflow ran) is queued in the
outbox under a key derived from the request's (``Request.reply_key``), so a Slack retry queues nothing
new and a 429 or 500 delays it but never loses it: to the response URL (``slack.respond``, by DM once
that URL has expired), or by DM when there is none. A reply where nothing was stored is posted
inline on a pooled connection, and queued the same way if that post fails.

Retried events are dropped in a middleware by their ``event_id``, recorded in the database so the
rule holds across replicas. Before any listener, a middleware cleans every string of the payload
(``bot.text.clean``: no control characters, no lone surrogates). A signed payload that still lacks a
field or has one of the wrong type is acknowledged and logged (``_tolerant``), never a 500.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.slack.blocks import fallback_text, message_blocks, modal, view_values
from bot.slack.home import publish_home, refresh_after
from bot.slack.replies import Replies, queue_reply
from bot.text import clean_tree
from integrations.slack_sender import METADATA_EVENT, slack_call
from storage.deliveries import first_time
from storage.outbox import RetryLater, Undeliverable
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.routing import Request, Router, SourceMessage
from workflows.kernel.ui import Form, Message, Outcome
from workflows.kernel.work import Context

log = logging.getLogger(__name__)
ANY = re.compile(".+")
WORKERS = 4
"""Workflows run at once on PostgreSQL: reports queue on the year's counter row anyway, and more
threads only contend for the GIL and hold connections while they wait."""
_STORED: ContextVar[list[bool] | None] = ContextVar("isms_stored_while_handling", default=None)
"""Set while a listener runs a workflow; a committed write transaction marks it (``_note_commit``)."""


class SlackPeople:
    """Slack user id -> Actor; asks users.info for the e-mail of people listed by e-mail only."""

    def __init__(self, ctx: Context, client: WebClient):
        self._ctx = ctx
        self._client = client
        self._emails: dict[str, str | None] = {}

    def actor(self, user_id: str, name: str | None = None) -> Actor:
        org = self._ctx.org
        if org.find(slack_id=user_id) is None and any(p.slack_id is None for p in org.people):
            return resolve_actor(org, slack_id=user_id, email=self._email(user_id), name=name)
        return resolve_actor(org, slack_id=user_id, name=name)

    def _email(self, user_id: str) -> str | None:
        if user_id not in self._emails:
            try:
                answer = slack_call(self._client.users_info, user=user_id)
                self._emails[user_id] = answer["user"].get("profile", {}).get("email")
            except (RetryLater, Undeliverable):
                return None
        return self._emails[user_id]


def _tolerant(listener: Callable[..., None]) -> Callable[..., None]:
    """Run a listener; if the payload lacks what it reads (or has the wrong type), ack and log instead
    of failing (Bolt answers a listener that fails before its ack with a 500)."""

    @functools.wraps(listener)  # Bolt reads the argument names through __wrapped__
    def run(**kwargs: Any) -> None:
        ack = kwargs.get("ack")
        acked: list[bool] = []
        if ack is not None:

            def ack_once(*args: Any, **options: Any) -> Any:
                acked.append(True)
                return ack(*args, **options)

            kwargs["ack"] = ack_once
        try:
            listener(**kwargs)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            kind = (kwargs.get("body") or {}).get("type") or "command"
            log.warning("Slack %s payload not as expected (%s: %s); acknowledged", kind, type(error).__name__, error)
            if ack is not None and not acked:
                ack()

    return run


def build_app(
    ctx: Context,
    router: Router,
    client: WebClient,
    signing_secret: str | None,
    replies: Replies | None = None,
    workers: int | None = None,
) -> App:
    """The Bolt app; ``signing_secret`` is None in Socket Mode, where Slack's requests are not signed.
    ``replies`` posts to response URLs and is also the outbox's ``slack.respond`` sender. ``workers``:
    workflows run at once (default: 1 on SQLite, which has one writer anyway, else ``WORKERS``); the
    other requests wait their turn in order instead of in SQLite's busy loop or for the GIL."""
    # The listener runs in the thread that received the request (waitress's, or Socket Mode's), and the
    # acknowledgement leaves when it returns: no hand-off to Bolt's 5-thread executor and its 10 ms poll.
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        process_before_response=True,
    )
    people = SlackPeople(ctx, client)
    replies = replies or Replies(message_blocks, fallback_text)
    event.listen(ctx.sessions, "after_commit", _note_commit)
    if workers is None:
        bind = ctx.sessions.kw.get("bind")
        workers = 1 if bind is not None and bind.dialect.name == "sqlite" else WORKERS
    turn = threading.BoundedSemaphore(workers)
    wake_outbox = ctx.on_commit

    def on_commit() -> None:
        # Inside a listener the dispatcher is woken once the reply is queued too: woken at the
        # workflow's commit, its claim would take SQLite's write lock just before the reply's turn.
        if _STORED.get() is None:
            wake_outbox()

    ctx.on_commit = on_commit

    def handle(request: Request, call: Callable[[], Outcome], response_url: str | None, trigger_id: str | None) -> None:
        """Run one workflow and deliver its outcome to the person who acted."""
        stored: list[bool] = []
        if response_url is not None and not response_url.startswith(("https://", "http://")):
            response_url = None  # a signed but malformed payload: answer by DM instead
        with turn:
            token = _STORED.set(stored)
            try:
                outcome = call()
            finally:
                _STORED.reset(token)
            if stored and outcome.reply is not None:  # queued in the same turn: no other writer between
                queue_reply(ctx, request.actor, request.reply_key, outcome.reply, response_url)
        if stored:
            wake_outbox()
        messages: list[tuple[str, Message]] = []
        if outcome.reply is not None and not stored:
            messages.append((request.reply_key, outcome.reply))
        if outcome.form is not None and trigger_id:
            problem = _open_form(client, trigger_id, outcome.form)
            if problem is not None:
                log.warning("views.open failed (%s); told %s what to do instead", problem, request.actor.id)
                messages.append((request.reply_key + ":form", _form_fallback(outcome.form)))
        for key, message in messages:  # nothing was stored: inline, queued only if that post fails
            if not response_url or not replies.post_now(response_url, message):
                queue_reply(ctx, request.actor, key, message, response_url)

    @app.middleware
    def clean_input(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        cleaned = clean_tree(body)
        if cleaned != body:
            body.clear()
            body.update(cleaned)
        return next()

    @app.middleware
    def drop_retried_events(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        event_id = body.get("event_id")
        if body.get("type") == "event_callback" and event_id:
            with ctx.sessions.begin() as session:
                if not first_time(session, f"event:{event_id}", ctx.clock()):
                    return BoltResponse(status=200, body="")
        return next()

    @app.command(ANY)  # the router answers commands it does not know
    @_tolerant
    def on_command(ack, body, command) -> None:  # type: ignore[no-untyped-def]
        ack()
        actor = people.actor(command["user_id"], command.get("user_name"))
        request = Request(actor, key=f"command:{body.get('trigger_id')}", text=command.get("text") or "")
        handle(
            request,
            lambda: router.command(ctx, command["command"], request),
            command.get("response_url"),
            body.get("trigger_id"),
        )

    @app.action(ANY)
    @_tolerant
    def on_action(ack, body, action) -> None:  # type: ignore[no-untyped-def]
        ack()
        user_id = body["user"]["id"]
        key = f"action:{action['action_id']}:{action.get('action_ts') or body.get('trigger_id')}"
        request = Request(people.actor(user_id), key=key, text=action.get("value") or "")
        # App Home buttons come without a response URL: the answer then goes by DM.
        handle(
            request,
            lambda: router.action(ctx, action["action_id"], request),
            body.get("response_url"),
            body.get("trigger_id"),
        )
        refresh_after(ctx, client, body, people.actor)  # App Home: see bot/slack/home.py

    @app.view(ANY)
    @_tolerant
    def on_submission(ack, body, view) -> None:  # type: ignore[no-untyped-def]
        user_id = body["user"]["id"]
        request = Request(
            people.actor(user_id),
            key=f"view:{view['id']}:{view.get('hash', '')}",
            values=view_values(view.get("state", {})),
            metadata=view.get("private_metadata") or "",
        )
        errors = router.validate_form(ctx, view["callback_id"], request)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        handle(request, lambda: router.submit_form(ctx, view["callback_id"], request), None, None)
        refresh_after(ctx, client, body, people.actor, always=True)  # App Home: see bot/slack/home.py

    @app.shortcut(ANY)
    @_tolerant
    def on_shortcut(ack, body, shortcut) -> None:  # type: ignore[no-untyped-def]
        ack()
        user_id = body["user"]["id"]
        source = None
        if body.get("type") == "message_action":
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
        request = Request(people.actor(user_id), key=f"shortcut:{body.get('trigger_id')}", source=source)
        handle(
            request,
            lambda: router.shortcut(ctx, shortcut["callback_id"], request),
            body.get("response_url"),
            body.get("trigger_id"),
        )

    @app.event("app_home_opened")
    @_tolerant
    def on_home(event) -> None:  # type: ignore[no-untyped-def]
        if event.get("tab", "home") != "home":
            return
        publish_home(ctx, client, event["user"], people.actor(event["user"]))  # see bot/slack/home.py

    @app.event("message")
    @_tolerant
    def on_direct_message(event) -> None:  # type: ignore[no-untyped-def]
        """A person writing to the bot in its Messages tab gets the help text (``message.im``); the
        bot's own posts, edits and other channels' messages are not for it."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return
        request = Request(people.actor(event["user"]), key=f"message:{event.get('channel')}:{event.get('ts')}")
        handle(request, lambda: router.command(ctx, "/isms", request), None, None)  # no text: /isms help

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s (%s)", type(error).__name__, body.get("type"), exc_info=error)

    return app


def _note_commit(session: Session) -> None:
    """A write transaction committed: if a listener is running in this thread, its reply follows a
    stored change (a refusal or failure record counts too: queueing such a reply is merely safe)."""
    stored = _STORED.get()
    if stored is not None and not stored:
        stored.append(True)


def _open_form(client: WebClient, trigger_id: str, form: Form) -> str | None:
    """``views.open`` within the trigger's 3 s; what went wrong, or None."""
    try:
        client.views_open(trigger_id=trigger_id, view=modal(form))
    except SlackApiError as error:
        code = error.response.get("error", "") if isinstance(error.response.data, dict) else ""
        return f"HTTP {error.response.status_code} {code}".strip()
    except (SlackClientError, OSError) as error:
        return type(error).__name__
    return None


def _form_fallback(form: Form) -> Message:
    instead = form.fallback or "Please try again in a moment."
    return Message(text=f"Sorry, Slack could not open the form \u201c{form.title}\u201d just now. {instead}")


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


def _permalink(client: WebClient, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        return str(slack_call(client.chat_getPermalink, channel=channel, message_ts=ts)["permalink"])
    except (RetryLater, Undeliverable):
        return None

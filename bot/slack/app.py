"""The Bolt app: thin listeners that ack at once and hand plain arguments to the router.

Every listener acks before doing any work (Slack's deadline is 3 s). Form validation is the one
exception: it is fast, stores nothing, and must travel in the ack so Slack shows it on the field.
Retried events are dropped in a middleware by their ``event_id``, recorded in the database so the
rule holds across replicas. Before any listener, a middleware cleans every string of the payload
(``bot.text.clean``: no control characters, no lone surrogates). A signed payload that still lacks a
field or has one of the wrong type is acknowledged and logged (``_tolerant``), never a 500.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.slack.blocks import fallback_text, home_view, message_blocks, modal, view_values
from bot.text import clean_tree
from integrations.slack_sender import slack_call
from storage.deliveries import first_time
from storage.outbox import RetryLater, Undeliverable
from workflows.common.home import home
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.routing import Request, Router, SourceMessage
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context

log = logging.getLogger(__name__)
ANY = re.compile(".+")


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


def build_app(ctx: Context, router: Router, client: WebClient, signing_secret: str | None) -> App:
    """The Bolt app; ``signing_secret`` is None in Socket Mode, where Slack's requests are not signed."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
    )
    people = SlackPeople(ctx, client)

    def show(outcome: Outcome, user_id: str, respond: Callable[..., Any] | None, trigger_id: str | None) -> None:
        """Deliver an outcome to the person who acted: a modal, or an ephemeral/DM reply."""
        if outcome.form is not None and trigger_id:
            client.views_open(trigger_id=trigger_id, view=modal(outcome.form))
        if outcome.reply is not None:
            content: dict[str, Any] = {"text": fallback_text(outcome.reply), "blocks": message_blocks(outcome.reply)}
            if respond is not None:
                respond(response_type="ephemeral", replace_original=False, **content)
            else:
                client.chat_postMessage(channel=user_id, **content)

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
    def on_command(ack, body, command, respond) -> None:  # type: ignore[no-untyped-def]
        ack()
        actor = people.actor(command["user_id"], command.get("user_name"))
        request = Request(actor, key=f"command:{body.get('trigger_id')}", text=command.get("text") or "")
        show(router.command(ctx, command["command"], request), command["user_id"], respond, body.get("trigger_id"))

    @app.action(ANY)
    @_tolerant
    def on_action(ack, body, action, respond) -> None:  # type: ignore[no-untyped-def]
        ack()
        user_id = body["user"]["id"]
        key = f"action:{action['action_id']}:{action.get('action_ts') or body.get('trigger_id')}"
        request = Request(people.actor(user_id), key=key, text=action.get("value") or "")
        # App Home buttons come without a response URL: the answer then goes by DM.
        respond_here = respond if body.get("response_url") else None
        show(router.action(ctx, action["action_id"], request), user_id, respond_here, body.get("trigger_id"))

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
        show(router.submit_form(ctx, view["callback_id"], request), user_id, None, None)

    @app.shortcut(ANY)
    @_tolerant
    def on_shortcut(ack, body, shortcut, respond) -> None:  # type: ignore[no-untyped-def]
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
            )
        request = Request(people.actor(user_id), key=f"shortcut:{body.get('trigger_id')}", source=source)
        show(
            router.shortcut(ctx, shortcut["callback_id"], request),
            user_id,
            respond if body.get("response_url") else None,
            body.get("trigger_id"),
        )

    @app.event("app_home_opened")
    @_tolerant
    def on_home(event) -> None:  # type: ignore[no-untyped-def]
        if event.get("tab", "home") != "home":
            return
        actor = people.actor(event["user"])
        client.views_publish(user_id=event["user"], view=home_view(home(ctx, actor)))

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s (%s)", type(error).__name__, body.get("type"))

    return app


def _permalink(client: WebClient, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        return str(slack_call(client.chat_getPermalink, channel=channel, message_ts=ts)["permalink"])
    except (RetryLater, Undeliverable):
        return None

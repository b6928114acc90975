"""The Bolt app: thin listeners that store what a person asked for, acknowledge it, and have it run.

The acknowledgement does not wait for the workflow (issue 10). A command, button click, form
submission, shortcut or DM to the bot goes one of two ways:

- a read-only trial first (``bot/slack/trial.py``): what stores nothing (help, lists, a form to open)
  is answered at once in the request thread, as before: ``views.open`` inline within its trigger's
  3 s, the reply posted inline on a pooled connection (and queued in the outbox if that post fails);
- what would store something is stored as it came, in one INSERT (``storage/intake.py``; a Slack retry
  adds no row), acknowledged, and run by an intake worker (``bot/slack/intake.py``), whose reply goes
  through the outbox (``slack.respond`` to the response URL, by DM when there is none or it expired)
  in the same transaction that marks the request done. A crash after the acknowledgement loses
  nothing: the next start replays what is not done, and workflows are safe to run twice.

A slash command that went to the intake is acknowledged with a short "Got it" line: the answer
follows by its response URL, usually within moments, but under a burst the queue can take seconds,
and a person who sees nothing types the report again. Buttons, forms and shortcuts show nothing in
their acknowledgement (Slack ignores a body there; an empty one closes a form).

Form validation is pure and runs before the intake, so its errors travel in the acknowledgement and
Slack shows them on the fields. Retried events are dropped in a middleware by their ``event_id``,
recorded in the database so the rule holds across replicas. Before any listener, a middleware cleans
every string of the payload (``bot.text.clean``). A signed payload that lacks a field or has one of
the wrong type is acknowledged and logged (``_tolerant``), never a 500, and never stored.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import jobs, trial
from bot.slack.blocks import fallback_text, message_blocks, modal, suggestion_options
from bot.slack.home import publish_home, refresh_after
from bot.slack.intake import IntakeWorkers
from bot.slack.replies import Replies, queue_reply, reply_effect
from bot.text import clean_tree
from integrations.slack_sender import slack_call
from storage import intake
from storage.deliveries import first_time
from storage.intake import Claimed
from storage.outbox import RetryLater, Undeliverable
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.routing import Request, Router, record_failure
from workflows.kernel.ui import Form, Message, Outcome
from workflows.kernel.work import Context

log = logging.getLogger(__name__)
ANY = re.compile(".+")
WORKERS = 1
"""Intake workers by default, on both databases: one worker runs a person's requests in the order they
were sent (an approval before the ticket move that follows it; two workers could swap them), and every
worker takes the GIL from the threads that acknowledge (bench/RESULTS.md: at 8 clients 4 workers gave
28% of the baseline's acknowledgements, 2 gave 47%, 1 gave 62%, with p99 222 ms at 32 clients, at half
the drain rate after a burst). ``ISMS_INTAKE_WORKERS`` trades that order for drain speed."""
GOT_IT = "Got it, working on it\u2026"
"""The acknowledgement of a slash command whose answer follows from an intake worker."""
LABELS = {"command": "command", "action": "click on", "view": "form", "shortcut": "shortcut", "message": "message"}


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
    lease: timedelta = intake.LEASE,
) -> tuple[App, IntakeWorkers]:
    """The Bolt app and its intake workers (the caller starts and stops them). ``signing_secret`` is
    None in Socket Mode, where Slack's requests are not signed. ``replies`` posts to response URLs and
    is also the outbox's ``slack.respond`` sender. ``workers``: workflows run at once (default
    ``WORKERS``); ``lease``: how long a worker holds a request
    (the wait before a request of a process that died while running it runs again)."""
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
    engine = ctx.sessions.kw["bind"]
    if workers is None:
        workers = WORKERS
    trial.guard(ctx.sessions)

    def take(kind: jobs.Kind, body: dict[str, Any], ack: Callable[..., Any] | None) -> None:
        """Answer a request now if it only reads; else store it, acknowledge it and have it run."""
        job = jobs.parse(kind, body)
        request = job.request(people.actor, client)
        outcome = trial.attempt(lambda: job.run(router, ctx, request))
        if outcome is not None:
            if ack is not None:
                ack()
            deliver_now(job, request, outcome)
            return
        stored = intake.receive(engine, key=job.key, kind=kind, payload=body, now=ctx.clock())
        if ack is not None:
            if kind == "command":
                ack(GOT_IT)
            else:
                ack()
        if stored is not None:  # None: a Slack retry of a request stored already
            pool.submit(stored)

    def deliver_now(job: jobs.Job, request: Request, outcome: Outcome) -> None:
        """The answer to a request that stored nothing: inline, queued only if the post fails."""
        for key, message in _messages(client, job, request, outcome):
            if not job.response_url or not replies.post_now(job.response_url, message):
                queue_reply(ctx, request.actor, key, message, job.response_url)
        if job.refreshes_home:
            refresh_after(ctx, client, job.body, people.actor, always=True)  # see bot/slack/home.py

    def run(claimed: Claimed) -> None:
        """An intake worker's run: the workflow, then its reply queued and the request done, together."""
        job = jobs.parse(cast(jobs.Kind, claimed.kind), claimed.payload)
        request = job.request(people.actor, client)
        outcome = job.run(router, ctx, request)
        messages = _messages(client, job, request, outcome)
        with ctx.work(request.actor) as work:
            for key, message in messages:
                reply_effect(work, request.actor, key, message, job.response_url)
            intake.finish(work.session, claimed.id, work.now)
        if job.refreshes_home:
            refresh_after(ctx, client, job.body, people.actor, always=True)

    def give_up(claimed: Claimed, problem: str) -> None:
        """After the last attempt: the person gets an ``ERR-`` reference to quote, the row is failed."""
        job = jobs.parse(cast(jobs.Kind, claimed.kind), claimed.payload)
        actor = resolve_actor(ctx.org, slack_id=job.user_id)  # not through Slack: it may be what failed
        what = f"your {LABELS[job.kind]} {job.route}"
        reference = record_failure(ctx, actor, what)
        told = Message(
            text=f"Sorry, I could not finish {what}. Please check whether it took effect before you try again; "
            f"if in doubt, give the ISMS manager this reference: {reference}"
        )  # unlike a workflow's own failure, part of it may be done (the last attempt failed after it)
        with ctx.work(actor) as work:
            reply_effect(work, actor, f"reply:{job.key}"[:200], told, job.response_url)
            intake.finish(work.session, claimed.id, work.now, error=f"{reference}: {problem}"[:2000])

    pool = IntakeWorkers(ctx.sessions, ctx.clock, run, give_up, workers=workers, lease=lease)

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
    def on_command(ack, body) -> None:  # type: ignore[no-untyped-def]
        take("command", body, ack)

    @app.action(ANY)
    @_tolerant
    def on_action(ack, body) -> None:  # type: ignore[no-untyped-def]
        take("action", body, ack)  # App Home buttons come without a response URL: the answer goes by DM

    @app.view(ANY)
    @_tolerant
    def on_submission(ack, body) -> None:  # type: ignore[no-untyped-def]
        job = jobs.parse("view", body)
        errors = router.validate_form(ctx, job.route, job.request(people.actor, client))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        take("view", body, ack)

    @app.options(ANY)
    @_tolerant
    def on_suggestion(ack, body) -> None:  # type: ignore[no-untyped-def]
        """A search field asks for matches while the person types (``block_suggestion``): it only reads,
        and Slack waits 3 s for the options, so it is answered here, never through the intake."""
        actor = people.actor(body["user"]["id"])
        matches = router.suggest(ctx, str(body["action_id"]), actor, str(body.get("value") or ""))
        ack(**suggestion_options(matches))

    @app.shortcut(ANY)
    @_tolerant
    def on_shortcut(ack, body) -> None:  # type: ignore[no-untyped-def]
        take("shortcut", body, ack)

    @app.event("app_home_opened")
    @_tolerant
    def on_home(event) -> None:  # type: ignore[no-untyped-def]
        if event.get("tab", "home") != "home":
            return
        publish_home(ctx, client, event["user"], people.actor(event["user"]))  # see bot/slack/home.py

    @app.event("message")
    @_tolerant
    def on_direct_message(body, event) -> None:  # type: ignore[no-untyped-def]
        """A person writing to the bot in its Messages tab gets the help text (``message.im``); the
        bot's own posts, edits and other channels' messages are not for it."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return
        take("message", body, None)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s (%s)", type(error).__name__, body.get("type"), exc_info=error)

    return app, pool


def _messages(client: WebClient, job: jobs.Job, request: Request, outcome: Outcome) -> list[tuple[str, Message]]:
    """What the person is told: the reply; what to do instead when a form could not be opened; and, from
    a worker, why nothing was saved when a form's values no longer pass (too late to show on the form)."""
    messages: list[tuple[str, Message]] = []
    if outcome.reply is not None:
        messages.append((request.reply_key, outcome.reply))
    if outcome.errors:
        messages.append((request.reply_key, Message(text="Nothing was saved: " + " ".join(outcome.errors.values()))))
    if outcome.form is not None and job.trigger_id:
        problem = _open_form(client, job.trigger_id, outcome.form)
        if problem is not None:
            log.warning("views.open failed (%s); told %s what to do instead", problem, request.actor.id)
            messages.append((request.reply_key + ":form", _form_fallback(outcome.form)))
    return messages


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

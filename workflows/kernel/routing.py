"""One table from chat input (command, button, form, shortcut) to workflow, shared by every surface.

Slack and the console both translate their input into a ``Request`` and call the same ``Router``,
so a feature built once works in both. The router also owns the two cross-cutting rules every
entry point must follow: a refusal is shown politely, and a failure after the ack is never silent
(the person gets a short error reference; the failure is logged and recorded).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from workflows.kernel.access import Refused
from workflows.kernel.actors import Actor
from workflows.kernel.directory import with_directory_roles
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceMessage:
    """The chat message a shortcut was used on."""

    text: str
    author: str | None = None
    permalink: str | None = None
    channel: str | None = None
    ts: str | None = None
    thread_of: str | None = None
    """For a reply in a thread under one of the bot's posts: that post's outbox key (from its metadata)."""


@dataclass(frozen=True)
class Request:
    """A person's input, surface-neutral. ``key`` makes retries of the same input act once."""

    actor: Actor
    key: str
    text: str = ""
    values: dict[str, str] = field(default_factory=dict)
    metadata: str = ""
    source: SourceMessage | None = None

    @property
    def reply_key(self) -> str:
        """The outbox key of the reply to this request: a retry of the request finds the same key, so
        the reply is queued (and sent) once."""
        return f"reply:{self.key}"[:200]


Handler = Callable[[Context, Request], Outcome]
Validator = Callable[[Context, Request], dict[str, str]]
Suggester = Callable[[Context, Actor, str], list[tuple[str, str]]]
"""(ctx, who types, what they typed) -> up to 100 (value, label) matches for a search field; reads only."""


@dataclass(frozen=True)
class FormRoute:
    """A form's handler in two parts: ``validate`` runs before the ack (fast, stores nothing), so
    Slack can show errors on the fields; ``submit`` runs after it."""

    validate: Validator
    submit: Handler


@dataclass
class Router:
    commands: dict[str, Handler] = field(default_factory=dict)
    isms: dict[str, Handler] = field(default_factory=dict)
    actions: dict[str, Handler] = field(default_factory=dict)
    forms: dict[str, FormRoute] = field(default_factory=dict)
    shortcuts: dict[str, Handler] = field(default_factory=dict)
    suggestions: dict[str, Suggester] = field(default_factory=dict)

    def command(self, ctx: Context, name: str, request: Request) -> Outcome:
        """``/incident ...`` or ``/isms <sub> ...``; ``/isms`` splits off its subcommand."""
        if name == "/isms":
            sub, _, rest = request.text.strip().partition(" ")
            handler = self.isms.get(sub.lower() or "help")
            if handler is None:
                return Outcome.say(f"I don't know '/isms {sub}'. Try /isms help.")
            return self._run(ctx, handler, _with_text(request, rest.strip()), f"/isms {sub}")
        handler = self.commands.get(name)
        if handler is None:
            return Outcome.say(f"I don't know {name}. Try /isms help.")
        return self._run(ctx, handler, request, name)

    def action(self, ctx: Context, action_id: str, request: Request) -> Outcome:
        handler = self.actions.get(action_id)
        if handler is None:
            return Outcome.say("That button is no longer supported.")
        return self._run(ctx, handler, request, f"button {action_id}")

    def shortcut(self, ctx: Context, callback_id: str, request: Request) -> Outcome:
        handler = self.shortcuts.get(callback_id)
        if handler is None:
            return Outcome.say("That shortcut is not supported.")
        return self._run(ctx, handler, request, f"shortcut {callback_id}")

    def suggest(self, ctx: Context, source: str, actor: Actor, query: str) -> list[tuple[str, str]]:
        """Matches for a search field while the person types: nothing for an unknown source or a refusal
        (a search box shows an empty list, it has no place for a message)."""
        suggester = self.suggestions.get(source)
        if suggester is None:
            return []
        try:
            if ctx.directory is not None:
                actor = with_directory_roles(ctx, actor)
            return suggester(ctx, actor, query)
        except Refused:
            return []

    def validate_form(self, ctx: Context, callback_id: str, request: Request) -> dict[str, str]:
        route = self.forms.get(callback_id)
        return route.validate(ctx, request) if route else {}

    def submit_form(self, ctx: Context, callback_id: str, request: Request) -> Outcome:
        route = self.forms.get(callback_id)
        if route is None:
            return Outcome.say("That form is no longer supported.")
        errors = route.validate(ctx, request)
        if errors:
            return Outcome(errors=errors)
        return self._run(ctx, route.submit, request, f"form {callback_id}")

    def _run(self, ctx: Context, handler: Handler, request: Request, what: str) -> Outcome:
        try:
            if ctx.directory is not None:  # roles from Entra ID groups (README, "Microsoft 365")
                request = replace(request, actor=with_directory_roles(ctx, request.actor))
            return handler(ctx, request)
        except Refused as refusal:
            return Outcome.say(str(refusal))
        except Exception:
            return report_failure(ctx, request.actor, what)


def report_failure(ctx: Context, actor: Actor, what: str) -> Outcome:
    """Log and record an unexpected failure and give the person a reference to quote."""
    reference = record_failure(ctx, actor, what)
    return Outcome(
        reply=Message(
            text=f"Sorry, something went wrong while handling {what}. Nothing was half-done; please try again. "
            f"If it keeps failing, give the ISMS manager this reference: {reference}"
        )
    )


def record_failure(ctx: Context, actor: Actor, what: str) -> str:
    """Log (with the exception being handled) and record a failure; its ``ERR-`` reference."""
    reference = "ERR-" + secrets.token_hex(3).upper()
    try:  # recorded before logging: a run stopped at its first write (a read-only trial) logs nothing
        with ctx.work(actor) as work:
            work.record("REC", "failure", ("error", reference), {"where": what})
    except Exception:
        log.exception("could not record failure %s", reference)
    log.exception("%s failed for %s (reference %s)", what, actor.id, reference)
    return reference


def _with_text(request: Request, text: str) -> Request:
    return Request(request.actor, request.key, text, request.values, request.metadata, request.source)

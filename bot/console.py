"""The console chat: the same router and workflows as Slack, in a terminal, on embedded defaults.

Bot messages print as text; buttons become numbered choices (type the number to press one); forms
become prompts. Everything the bot sends (DMs, channel posts) is printed with its recipient, so one
person at a terminal can follow, and with ``/as`` play, every role in a flow.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.runtime import Runtime
from bot.text import clean, shown_on_terminal
from config.organisation import role_labels
from storage.outbox import Effect
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.people import person_name
from workflows.kernel.recipients import Recipient
from workflows.kernel.routing import Request, SourceMessage
from workflows.kernel.ui import Button, Form, FormField, Message, Outcome
from workflows.kernel.work import Context
from workflows.outreach.files import content_of

HELP = (
    "Type /isms help or /incident <what happened>. A number presses that button. "
    "/as EMAIL switches who you are; /share <text> reports a message with the shortcut; /quit leaves."
)


CANCEL = "/cancel"


class _Cancelled(Exception):
    """The person typed ``/cancel`` at a form prompt."""


class Console:
    """A line-based chat session. ``ask`` and ``say`` are injectable so tests can drive it."""

    def __init__(self, ask: Callable[[str], str] = input, say: Callable[[str], None] = print):
        # The edge: every line typed is cleaned once (bot/text.py); everything printed is made safe.
        self._ask: Callable[[str], str] = lambda prompt: clean(ask(prompt))
        self._say: Callable[[str], None] = lambda text: say(shown_on_terminal(text))
        self._buttons: dict[int, Button] = {}
        self._numbers = itertools.count(1)
        self._runtime: Runtime | None = None
        self.actor: Actor | None = None

    # -- outbox sender: every chat message the bot sends lands here -------------------------------
    def deliver(self, ctx: Context) -> Callable[[Effect], dict[str, Any]]:
        def send(effect: Effect) -> dict[str, Any]:
            payload = effect.payload
            where = self._recipient(ctx, payload["to"])
            if "replaces" in payload:
                where += " (updated)"
            elif "thread_of" in payload:
                where += " (in thread)"
            self._print(Message.from_dict(payload["message"]), f"[to {where}]")
            return {"channel": payload["to"], "ts": effect.key}

        return send

    def files(self, folder: Path) -> Callable[[Effect], dict[str, Any]]:
        """The sender of files shared in chat (``slack.upload``): the file is saved in ``folder`` and
        its place printed with the comment beside it, where Slack would show the file."""

        def send(effect: Effect) -> dict[str, Any]:
            assert self._runtime is not None, "files are sent once the console is attached"
            payload = effect.payload
            folder.mkdir(parents=True, exist_ok=True)
            name = Path(str(payload["filename"])).name  # never a path of its own
            saved = folder / f"{hashlib.sha256(effect.key.encode()).hexdigest()[:8]}-{name}"
            saved.write_bytes(content_of(dict(payload)))
            where = self._recipient(self._runtime.ctx, str(payload["to"]))
            comment = Message(text=f"[file to {where}] {payload['title']}: {saved}", body=str(payload["comment"]))
            self._print(comment)
            return {"file_id": str(saved), "channel": str(payload["to"])}

        return send

    @staticmethod
    def _recipient(ctx: Context, to: str) -> str:
        recipient = Recipient.parse(to)
        if recipient.kind == "person":
            return person_name(ctx.org, recipient.id)
        if recipient.kind == "channel":
            return f"#{recipient.id}"
        return recipient.id

    def _print(self, message: Message, heading: str = "") -> None:
        lines = [f"{heading} {message.text}".strip()]
        if message.body:
            lines.append(message.body)
        lines.extend(f"  {label}: {value}" for label, value in message.fields)
        for button in message.buttons:
            number = next(self._numbers)
            self._buttons[number] = button
            lines.append(f"  [{number}] {button.label}")
        if message.footer:
            lines.append(f"  ({message.footer})")
        self._say("\n".join(lines))

    # -- the session ----------------------------------------------------------------------------------
    def attach(self, runtime: Runtime, email: str) -> None:
        self._runtime = runtime
        self.switch(email)

    def switch(self, email: str) -> None:
        assert self._runtime is not None
        self.actor = resolve_actor(self._runtime.ctx.org, email=email, name=email)
        roles = ", ".join(role_labels(self.actor.roles)) or "no roles"
        self._say(f"You are {self.actor.name} ({roles}).")

    def run(self) -> None:
        self._say(HELP)
        while True:
            try:
                line = self._ask("> ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if line in ("/quit", "/exit"):
                return
            if line:
                self.handle(line)

    def handle(self, line: str) -> None:
        runtime = self._runtime
        assert runtime is not None and self.actor is not None
        ctx, router = runtime.ctx, runtime.router
        key = "console:" + secrets.token_hex(8)
        if line.startswith("/as "):
            self.switch(line[4:].strip())
            return
        if line.isdigit():
            button = self._buttons.get(int(line))
            if button is None:
                self._say(f"There is no button [{line}].")
                return
            outcome = router.action(ctx, button.action_id, Request(self.actor, key, text=button.value))
        elif line.startswith("/share "):
            source = SourceMessage(text=line[7:], author=self.actor.slack_id, channel="console")
            outcome = router.shortcut(ctx, "report_incident", Request(self.actor, key, source=source))
        elif line.startswith("/"):
            name, _, text = line.partition(" ")
            outcome = router.command(ctx, name, Request(self.actor, key, text=text))
        else:
            self._say(HELP)
            return
        self.show(outcome)

    def show(self, outcome: Outcome) -> None:
        runtime = self._runtime
        assert runtime is not None and self.actor is not None
        if outcome.reply is not None:
            self._print(outcome.reply)
        if outcome.form is not None:
            self._fill(outcome.form)
        runtime.dispatcher.drain()

    def _fill(self, form: Form) -> None:
        """Prompt field by field; on errors, ask again only for the fields that were wrong.
        ``/cancel`` at any prompt leaves the form and stores nothing."""
        runtime = self._runtime
        assert runtime is not None and self.actor is not None
        self._say(f"== {form.title} == (type {CANCEL} to leave without saving)")
        try:
            values = {field.name: self._prompt(field) for field in form.fields}
            key = "console-form:" + secrets.token_hex(8)
            while True:
                request = Request(self.actor, key, values=values, metadata=form.metadata)
                outcome = runtime.router.submit_form(runtime.ctx, form.callback_id, request)
                if not outcome.errors:
                    self.show(outcome)
                    return
                for field in form.fields:
                    if field.name in outcome.errors:
                        self._say(f"  ! {field.label}: {outcome.errors[field.name]}")
                        values[field.name] = self._prompt(field)
        except _Cancelled:
            self._say(f"Cancelled: nothing from “{form.title}” was saved.")

    def _answer(self, prompt: str) -> str:
        answer = self._ask(prompt).strip()
        if answer.lower() == CANCEL:
            raise _Cancelled
        return answer

    def _prompt(self, field: FormField) -> str:
        optional = "optional" in field.label.lower()
        suffix = "" if field.required else (" (Enter to skip)" if optional else " (optional, Enter to skip)")
        if field.kind == "select":
            for index, (_, label) in enumerate(field.options, 1):
                self._say(f"    {index}. {label}")
            chosen = dict(field.options).get(field.initial or "")
            keep = f", Enter for {chosen}" if chosen else ""
            answer = self._answer(f"  {field.label}{suffix} [number{keep}]: ")
            if not answer and chosen:
                return field.initial or ""
            if answer.isdigit() and 1 <= int(answer) <= len(field.options):
                return field.options[int(answer) - 1][0]
            return answer
        if field.kind == "datetime":
            answer = self._answer(f"  {field.label}{suffix} [YYYY-MM-DD HH:MM, Enter for {self._shown(field)}]: ")
            return self._epoch(answer) if answer else (field.initial or "")
        if field.kind == "person":
            answer = self._answer(f"  {field.label}{suffix} [a name or an e-mail address]: ")
            return self._person(answer)
        if field.kind == "search":
            return self._search(field, suffix)
        keep = f" [Enter to keep: {field.initial}]" if field.initial else ""
        answer = self._answer(f"  {field.label}{suffix}{keep}: ")
        return answer or (field.initial or "")

    def _search(self, field: FormField, suffix: str) -> str:
        """Words to search for, then a number among the matches (as Slack's search box offers them);
        a value typed in full (``asset:AS-003``) is taken as it is, and the form's check refuses an
        unknown one."""
        runtime = self._runtime
        assert runtime is not None and self.actor is not None
        while True:
            answer = self._answer(f"  {field.label}{suffix} [words to search for, or e.g. asset:AS-003]: ")
            if not answer:
                return ""
            matches = runtime.router.suggest(runtime.ctx, field.source, self.actor, answer)
            if [value for value, _ in matches] == [answer] or (":" in answer and not matches and " " not in answer):
                return answer  # a value typed in full; the form's check says if it names nothing
            if not matches:
                self._say("    Nothing matches; try other words.")
                continue
            for index, (_, label) in enumerate(matches[:20], 1):
                self._say(f"    {index}. {label}")
            if len(matches) > 20:
                self._say(f"    … and {len(matches) - 20} more; type more words to narrow it down.")
            number = self._answer("  Which one? [number, Enter to search again]: ")
            if number.isdigit() and 1 <= int(number) <= min(len(matches), 20):
                return matches[int(number) - 1][0]

    def _shown(self, field: FormField) -> str:
        """A datetime field's prefilled value as the person reads it (now, if none)."""
        assert self._runtime is not None
        zone = self._runtime.ctx.org.zone
        if field.initial and field.initial.isdigit():
            return datetime.fromtimestamp(int(field.initial), zone).strftime("%Y-%m-%d %H:%M")
        return "now"

    def _person(self, answer: str) -> str:
        """A person by name (as the organisation file writes it), e-mail, Slack id or person id."""
        assert self._runtime is not None
        wanted = answer.strip().casefold()
        named = [p for p in self._runtime.ctx.org.people if p.name.casefold() == wanted]
        return named[0].id if len(named) == 1 else answer

    def _epoch(self, answer: str) -> str:
        """Local wall time in the organisation's timezone -> epoch seconds, as Slack's picker sends."""
        assert self._runtime is not None
        try:
            moment = datetime.strptime(answer, "%Y-%m-%d %H:%M").replace(tzinfo=self._runtime.ctx.org.zone)
        except ValueError:
            return answer  # the workflow's validation names the problem
        return str(int(moment.timestamp()))

"""A chat-neutral description of what the bot shows, rendered by Slack (Block Kit) or the console.

Workflows say *what* to show: a message with fields and buttons, a form with fields. All strings are
plain, untrusted text; each surface escapes them its own way, so user text can never turn into a
mention or a link. Everything here is JSON-serialisable because messages wait in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Button:
    action_id: str
    label: str
    value: str = ""
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Message:
    """One chat message: a headline, optional body, label/value fields and buttons."""

    text: str
    body: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = ()
    footer: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON data (what waits in the outbox); written out by hand because
        ``dataclasses.asdict`` deep-copies recursively and was a third of a reminder tick's time."""
        return {
            "text": self.text,
            "body": self.body,
            "fields": [[label, value] for label, value in self.fields],
            "buttons": [
                {"action_id": b.action_id, "label": b.label, "value": b.value, "style": b.style} for b in self.buttons
            ],
            "footer": self.footer,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            text=data["text"],
            body=data.get("body", ""),
            fields=tuple((str(label), str(value)) for label, value in data.get("fields", ())),
            buttons=tuple(Button(**b) for b in data.get("buttons", ())),
            footer=data.get("footer", ""),
        )


FieldKind = Literal["text", "multiline", "select", "datetime", "date", "number", "url", "person", "files", "search"]
"""``search``: one item chosen from a source too large to list in the form (e.g. the registers); Slack
asks the bot for matches while the person types, the console asks for words and offers the matches."""


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind = "text"
    required: bool = True
    max_length: int | None = None
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for select
    initial: str | None = None
    hint: str = ""
    source: str = ""  # for search: the name a router's ``suggestions`` answer under, e.g. "registers"


@dataclass(frozen=True)
class Form:
    """A modal in Slack, a sequence of prompts in the console."""

    callback_id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    metadata: str = ""
    fallback: str = ""
    """What the person can do instead when the form cannot be opened (Slack refused or throttled
    ``views.open``, or its 3 s trigger expired), e.g. "Type `/incident <what happened>` instead." """


@dataclass(frozen=True)
class HomeView:
    """The App Home tab (and ``/isms home`` in the console)."""

    title: str
    sections: tuple[Message, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Outcome:
    """What a workflow hands back to the surface that called it.

    ``reply`` is shown only to the person who acted; ``form`` opens a form for them; ``errors`` maps
    form field names to what to fix (nothing was stored).
    """

    reply: Message | None = None
    form: Form | None = None
    errors: dict[str, str] | None = None

    @classmethod
    def say(cls, text: str, **message: Any) -> Outcome:
        return cls(reply=Message(text=text, **message))

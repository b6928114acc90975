"""Where a message goes, as one small type: built by workflows, stored in the outbox as text, and
parsed back by each chat surface (Slack sender, console) in this one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RecipientKind = Literal["person", "channel", "slack", "email"]
KINDS: tuple[RecipientKind, ...] = ("person", "channel", "slack", "email")


@dataclass(frozen=True)
class Recipient:
    """A person of the organisation file, a channel by its role (``security_triage``), a Slack user
    who is not listed, or an e-mail address."""

    kind: RecipientKind
    id: str

    @classmethod
    def person(cls, person_id: str) -> Recipient:
        return cls("person", person_id)

    @classmethod
    def channel(cls, role: str) -> Recipient:
        """A channel by its role in the organisation file (``security_triage``, ``isms_reports``)."""
        return cls("channel", role)

    @classmethod
    def parse(cls, text: str) -> Recipient:
        kind, _, ident = text.partition(":")
        if kind not in KINDS or not ident:
            raise ValueError(f"not a recipient: {text!r}")
        return cls(kind, ident)

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

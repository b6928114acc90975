"""Helpers for the incident tests: a runtime whose chat sender records what people would read."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.runtime import Runtime, build_runtime
from config.settings import Settings
from storage.models import Incident, Record
from storage.outbox import Effect, Sender
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.process import run_due_work
from workflows.kernel.ui import Message
from workflows.kernel.work import Context

_keys = itertools.count(1)


def fresh_key(prefix: str = "test") -> str:
    return f"{prefix}:{next(_keys)}"


@dataclass(frozen=True)
class Sent:
    to: str
    message: Message
    key: str
    thread_of: str | None = None
    replaces: str | None = None

    @property
    def text(self) -> str:
        m = self.message
        parts = [
            m.text,
            m.body,
            *(f"{label}: {value}" for label, value in m.fields),
            *(b.label for b in m.buttons),
            m.footer,
        ]
        return "\n".join(p for p in parts if p)


class Chat:
    """The chat sender for tests: every delivered message, in order."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def __call__(self, ctx: Context) -> Sender:
        def send(effect: Effect) -> dict[str, Any]:
            payload = effect.payload
            self.sent.append(
                Sent(
                    payload["to"],
                    Message.from_dict(payload["message"]),
                    effect.key,
                    payload.get("thread_of"),
                    payload.get("replaces"),
                )
            )
            return {"channel": payload["to"], "ts": effect.key}

        return send

    def dms(self, person_id: str, *, incidents_only: bool = True) -> list[Sent]:
        """Direct messages to a person; by default only those of process INC (other processes' scheduled
        work may write to the same people during a tick)."""
        return [
            s for s in self.sent if s.to == f"person:{person_id}" and (s.key.startswith("inc:") or not incidents_only)
        ]

    def dm_texts(self, person_id: str, *, incidents_only: bool = True) -> list[str]:
        return [s.text for s in self.dms(person_id, incidents_only=incidents_only)]

    def thread(self, ref: str) -> list[str]:
        return [s.message.text for s in self.sent if s.thread_of == f"inc:{ref}:triage"]

    def triage_posts(self, ref: str) -> list[Sent]:
        """The first post and every in-place update of it, oldest first."""
        return [s for s in self.sent if s.key == f"inc:{ref}:triage" or s.replaces == f"inc:{ref}:triage"]

    def clear(self) -> None:
        self.sent.clear()


@dataclass
class World:
    runtime: Runtime
    chat: Chat

    @property
    def ctx(self) -> Context:
        return self.runtime.ctx

    def actor(self, person_id: str) -> Actor:
        person = self.ctx.org.person(person_id)
        assert person is not None
        return resolve_actor(self.ctx.org, email=person.email)

    def deliver(self) -> None:
        self.runtime.dispatcher.drain()

    def tick(self) -> None:
        """One scheduler tick, then everything it queued is delivered."""
        run_due_work(self.ctx)
        self.deliver()

    def incident(self, ref: str) -> Incident:
        with self.ctx.read() as session:
            found = session.scalar(select(Incident).where(Incident.ref == ref))
        assert found is not None
        return found

    def records(self, action: str | None = None, process: str = "INC") -> list[tuple[str, str, str, dict[str, Any]]]:
        """(actor, action, subject id, data) of records, oldest first."""
        with self.ctx.read() as session:
            query = select(Record).where(Record.process == process).order_by(Record.seq)
            if action is not None:
                query = query.where(Record.action == action)
            rows = session.scalars(query).all()
        return [(r.actor, r.action, r.subject_id, json.loads(r.data or "{}")) for r in rows]


def make_world(settings: Settings, clock: Any) -> Iterator[World]:
    chat = Chat()
    runtime = build_runtime(settings, chat, clock=clock)
    try:
        yield World(runtime, chat)
    finally:
        runtime.engine.dispose()


def report_values(**overrides: str) -> dict[str, str]:
    """A complete, valid report form."""
    values = {
        "what": "I clicked a link in a mail that asked for my password.",
        "noticed": "",
        "affected": "Mail account",
        "category": "phishing",
        "personal_data": "no",
        "links": "",
        "files": "",
    }
    values.update(overrides)
    return values

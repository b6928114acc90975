"""Helpers for the evidence and scheduler tests: an organisation file with the programme live, a chat
inbox, and a world that ticks, presses buttons and fills forms like people do."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select

from bot.runtime import Runtime, build_runtime
from config.settings import PACKAGED_EXAMPLE_ORG, Settings
from storage.models import EvidenceRequest, Record
from storage.outbox import Effect
from tests.support import FakeClock
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.process import run_due_work
from workflows.kernel.routing import Request
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

BERLIN = ZoneInfo("Europe/Berlin")
_keys = itertools.count(1)


def berlin(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def org_file(tmp_path: Path, programme: list[dict[str, Any]] | None = None, **activities: Any) -> Path:
    """The example organisation with its programme live from the first tick (no go-live date), and
    optionally another programme or other settings of the ``activities`` section."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["activities"].pop("start")
    if programme is not None:
        org["activities"]["programme"] = programme
    org["activities"].update(activities)
    path = tmp_path / f"org-{next(_keys)}.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


class Inbox:
    """The chat sender for tests: every delivered message with its recipient and outbox key."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message]] = []

    def __call__(self, ctx: Context):  # type: ignore[no-untyped-def]
        def send(effect: Effect) -> dict[str, Any]:
            self.sent.append((effect.payload["to"], effect.key, Message.from_dict(effect.payload["message"])))
            return {"channel": effect.payload["to"], "ts": effect.key}

        return send

    def to(self, person: str) -> list[Message]:
        return [message for to, _, message in self.sent if to == f"person:{person}"]

    def texts(self, person: str) -> list[str]:
        return [message.text for message in self.to(person)]

    def everything(self) -> list[tuple[str, str]]:
        return [(to.removeprefix("person:"), message.text) for to, _, message in self.sent]

    def button(self, person: str, action_id: str) -> str:
        for message in reversed(self.to(person)):
            for button in message.buttons:
                if button.action_id == action_id:
                    return button.value
        raise AssertionError(f"no {action_id} button was sent to {person}: {self.texts(person)}")


@dataclass
class World:
    runtime: Runtime
    inbox: Inbox
    clock: FakeClock

    @property
    def ctx(self) -> Context:
        return self.runtime.ctx

    def actor(self, person: str) -> Actor:
        return resolve_actor(self.ctx.org, email=f"{person}@example.org")

    def tick(self) -> None:
        run_due_work(self.ctx)
        self.runtime.dispatcher.drain()

    def at(self, moment: datetime) -> list[tuple[str, str]]:
        """Move the clock to ``moment``, tick, and return what was sent at that tick."""
        before = len(self.inbox.sent)
        self.clock.set(moment)
        self.tick()
        return self.inbox.everything()[before:]

    def press(self, person: str, action_id: str, value: str, key: str | None = None) -> Outcome:
        request = Request(self.actor(person), key or f"test:{next(_keys)}", text=value)
        outcome = self.runtime.router.action(self.ctx, action_id, request)
        self.runtime.dispatcher.drain()
        return outcome

    def fill(
        self, person: str, callback_id: str, values: dict[str, str], metadata: str, key: str | None = None
    ) -> Outcome:
        request = Request(self.actor(person), key or f"test:{next(_keys)}", values=values, metadata=metadata)
        outcome = self.runtime.router.submit_form(self.ctx, callback_id, request)
        self.runtime.dispatcher.drain()
        return outcome

    def command(self, person: str, text: str) -> Outcome:
        request = Request(self.actor(person), f"test:{next(_keys)}", text=text)
        return self.runtime.router.command(self.ctx, "/isms", request)

    def requests(self) -> list[EvidenceRequest]:
        with self.ctx.read() as session:
            return list(session.scalars(select(EvidenceRequest).order_by(EvidenceRequest.id)))

    def request(self, request_id: int = 1) -> EvidenceRequest:
        with self.ctx.read() as session:
            found = session.get(EvidenceRequest, request_id)
        assert found is not None
        return found

    def records(self, action: str | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(actor, action, subject id, data) of the records of evidence requests and activities."""
        with self.ctx.read() as session:
            query = select(Record).where(Record.subject_type.in_(("evidence", "activity"))).order_by(Record.seq)
            if action is not None:
                query = query.where(Record.action == action)
            return [
                (r.actor, r.action, r.subject_id, json.loads(r.data) if r.data else {}) for r in session.scalars(query)
            ]


def make_world(
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
    programme: list[dict[str, Any]] | None = None,
    **activities: Any,
) -> World:
    settings = settings.model_copy(update={"config_path": org_file(tmp_path, programme, **activities)})
    inbox = Inbox()
    return World(build_runtime(settings, inbox, clock=clock), inbox, clock)


def text_of(message: Message) -> str:
    parts = [message.text, message.body, *(f"{label}: {value}" for label, value in message.fields), message.footer]
    return "\n".join(part for part in parts if part)

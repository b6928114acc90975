"""Helpers shared by the change-management tests: a chat inbox, the runtime, origin recorders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from config.settings import PACKAGED_EXAMPLE_ORG, Settings
from storage.models import Change, Record
from storage.outbox import Effect
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.ui import Message
from workflows.kernel.work import Context
from workflows.registry import PROCESSES


class Inbox:
    """A chat sender that keeps every delivered message with its recipient (``person:erin``...)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Message]] = []

    def sender(self, ctx: Context) -> Callable[[Effect], dict[str, Any]]:
        def send(effect: Effect) -> dict[str, Any]:
            self.messages.append((effect.payload["to"], Message.from_dict(effect.payload["message"])))
            return {"ts": effect.key}

        return send

    def to(self, person: str) -> list[Message]:
        return [message for to, message in self.messages if to == f"person:{person}"]

    def texts(self, person: str) -> list[str]:
        return [message.text for message in self.to(person)]

    def last_button(self, person: str, action_id: str) -> str:
        """The value of the newest button ``action_id`` sent to ``person``."""
        for message in reversed(self.to(person)):
            for button in message.buttons:
                if button.action_id == action_id:
                    return button.value
        raise AssertionError(f"no {action_id} button was sent to {person}: {self.texts(person)}")


def actor(ctx: Context, person: str) -> Actor:
    return resolve_actor(ctx.org, email=f"{person}@example.org")


def change(ctx: Context, ref: str) -> Change:
    with ctx.read() as session:
        found = session.scalar(select(Change).where(Change.ref == ref))
        assert found is not None
        session.expunge(found)
        return found


def records(ctx: Context, subject_id: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(actor, process, action, data) of every record about ``subject_id``, in order."""
    with ctx.read() as session:
        rows = session.scalars(select(Record).where(Record.subject_id == subject_id).order_by(Record.seq))
        return [(r.actor, r.process, r.action, json.loads(r.data) if r.data else {}) for r in rows]


def actions(ctx: Context, subject_id: str) -> list[str]:
    return [f"{process} {action}" for _, process, action, _ in records(ctx, subject_id)]


class OriginRecorder:
    """Stands in for the requesting process (INC): collects what CHG tells it through the interface."""

    def __init__(self) -> None:
        self.events: list[Interface] = []

    def __call__(self, work: object, event: Interface) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[Interface]:
        return [event for event in self.events if event.name == name]


def listen_as_origin(monkeypatch: Any, process: str = "INC") -> OriginRecorder:
    """Replace the origin's real subscribers for the duration of a test, so only the contract is seen."""
    recorder = OriginRecorder()
    receiving = next(p for p in PROCESSES if p.id == process)
    for name in ("change-status", "change-finished"):
        monkeypatch.setitem(receiving.receives, name, recorder)
    return recorder


def org_file(tmp_path: Path, changes: dict[str, Any]) -> Path:
    """The example organisation with a ``changes`` section of the test's choosing."""
    data = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    data["changes"] = changes
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def with_org(settings: Settings, path: Path) -> Settings:
    return settings.model_copy(update={"config_path": path})

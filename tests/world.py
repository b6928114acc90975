"""One test world for every process: the real runtime with a chat sender that records what people
would read (messages, and files shared in chat), a controllable clock, and the moves people make
(press a button, fill a form, type a command) through the same router Slack and the console use."""

from __future__ import annotations

import hashlib
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
from storage.models import Change, EvidenceRequest, Incident, Record
from storage.outbox import Effect, Sender
from tests.support import FakeClock
from workflows.kernel.actors import Actor, resolve_actor
from workflows.kernel.interfaces import Interface
from workflows.kernel.process import run_due_work
from workflows.kernel.routing import Request
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context
from workflows.outreach.files import UPLOAD_KIND, content_of
from workflows.registry import PROCESSES

BERLIN = ZoneInfo("Europe/Berlin")
EVIDENCE = ("evidence", "activity")
_keys = itertools.count(1)


def fresh_key(prefix: str = "test") -> str:
    return f"{prefix}:{next(_keys)}"


def berlin(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def text_of(message: Message) -> str:
    """Everything a person reads in a message, buttons aside."""
    parts = [message.text, message.body, *(f"{label}: {value}" for label, value in message.fields), message.footer]
    return "\n".join(part for part in parts if part)


@dataclass(frozen=True)
class SharedFile:
    """A file shared in chat (a ``slack.upload`` effect) as its recipient gets it."""

    to: str
    filename: str
    title: str
    comment: str
    content: bytes
    key: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Sent:
    to: str
    message: Message
    key: str
    thread_of: str | None = None
    replaces: str | None = None

    @property
    def text(self) -> str:
        """What a person reads, with the buttons' labels."""
        return "\n".join(p for p in (text_of(self.message), *(b.label for b in self.message.buttons)) if p)


class Chat:
    """The chat sender for tests (pass it to ``build_runtime``): every delivered message, in order."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.shared: list[SharedFile] = []

    def __call__(self, ctx: Context) -> Sender:
        def send(effect: Effect) -> dict[str, Any]:
            payload = effect.payload
            message = Message.from_dict(payload["message"])
            self.sent.append(
                Sent(payload["to"], message, effect.key, payload.get("thread_of"), payload.get("replaces"))
            )
            return {"channel": payload["to"], "ts": effect.key}

        return send

    def upload(self, effect: Effect) -> dict[str, Any]:
        """The sender of ``slack.upload`` effects: the file as its recipient would download it."""
        payload = effect.payload
        self.shared.append(
            SharedFile(
                str(payload["to"]),
                str(payload["filename"]),
                str(payload["title"]),
                str(payload.get("comment") or ""),
                content_of(dict(payload)),
                effect.key,
            )
        )
        return {"file_id": effect.key, "channel": payload["to"]}

    def files(self, to: str) -> list[SharedFile]:
        """Files shared with ``to`` (``person:alice``, ``channel:isms_reports``), in order."""
        return [shared for shared in self.shared if shared.to == to]

    def to(self, person: str) -> list[Message]:
        return [s.message for s in self.sent if s.to == f"person:{person}"]

    def texts(self, person: str) -> list[str]:
        """The headline of every message to ``person``."""
        return [message.text for message in self.to(person)]

    def dm_texts(self, person: str, *, incidents_only: bool = True) -> list[str]:
        """Full texts of direct messages; by default only process INC's (other processes' scheduled
        work may write to the same people during a tick)."""
        return [
            s.text for s in self.sent if s.to == f"person:{person}" and (s.key.startswith("inc:") or not incidents_only)
        ]

    def everything(self) -> list[tuple[str, str]]:
        """(recipient, headline) of every message, persons without their prefix."""
        return [(s.to.removeprefix("person:"), s.message.text) for s in self.sent]

    def to_people(self) -> list[tuple[str, str]]:
        """(person, headline) of every direct message; channel posts (the daily records head) left out."""
        return [(to, text) for to, text in self.everything() if not to.startswith("channel:")]

    def thread(self, ref: str) -> list[str]:
        return [s.message.text for s in self.sent if s.thread_of == f"inc:{ref}:triage"]

    def triage_posts(self, ref: str) -> list[Sent]:
        """The first post and every in-place update of it, oldest first."""
        return [s for s in self.sent if s.key == f"inc:{ref}:triage" or s.replaces == f"inc:{ref}:triage"]

    def button(self, person: str, action_id: str) -> str:
        """The value of the newest button ``action_id`` sent to ``person``."""
        for message in reversed(self.to(person)):
            for button in message.buttons:
                if button.action_id == action_id:
                    return button.value
        raise AssertionError(f"no {action_id} button was sent to {person}: {self.texts(person)}")

    def clear(self) -> None:
        self.sent.clear()
        self.shared.clear()


def actor(ctx: Context, person: str) -> Actor:
    """The actor of a person of the example organisation, by person id."""
    listed = ctx.org.person(person)
    return resolve_actor(ctx.org, email=listed.email if listed else f"{person}@example.org")


def records_about(ctx: Context, subject_id: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(actor, process, action, data) of every record about ``subject_id``, in order."""
    with ctx.read() as session:
        rows = session.scalars(select(Record).where(Record.subject_id == subject_id).order_by(Record.seq))
        return [(r.actor, r.process, r.action, json.loads(r.data) if r.data else {}) for r in rows]


def actions(ctx: Context, subject_id: str) -> list[str]:
    return [f"{process} {action}" for _, process, action, _ in records_about(ctx, subject_id)]


def change(ctx: Context, ref: str) -> Change:
    with ctx.read() as session:
        found = session.scalar(select(Change).where(Change.ref == ref))
        assert found is not None
        session.expunge(found)
        return found


@dataclass
class World:
    runtime: Runtime
    chat: Chat
    clock: FakeClock

    @property
    def ctx(self) -> Context:
        return self.runtime.ctx

    def actor(self, person: str) -> Actor:
        return actor(self.ctx, person)

    def deliver(self) -> None:
        self.runtime.dispatcher.drain()

    def tick(self) -> None:
        """One scheduler tick, then everything it queued is delivered."""
        run_due_work(self.ctx)
        self.deliver()

    def at(self, moment: datetime) -> list[tuple[str, str]]:
        """Move the clock to ``moment``, tick, and return what was sent to people at that tick (posts
        to channels, such as the daily records head, are left out)."""
        before = len(self.chat.sent)
        self.clock.set(moment)
        self.tick()
        return [(to, text) for to, text in self.chat.everything()[before:] if not to.startswith("channel:")]

    def press(self, person: str, action_id: str, value: str, key: str | None = None) -> Outcome:
        request = Request(self.actor(person), key or fresh_key(), text=value)
        outcome = self.runtime.router.action(self.ctx, action_id, request)
        self.deliver()
        return outcome

    def fill(
        self, person: str, callback_id: str, values: dict[str, str], metadata: str, key: str | None = None
    ) -> Outcome:
        request = Request(self.actor(person), key or fresh_key(), values=values, metadata=metadata)
        outcome = self.runtime.router.submit_form(self.ctx, callback_id, request)
        self.deliver()
        return outcome

    def command(self, person: str, text: str, name: str = "/isms") -> Outcome:
        return self.runtime.router.command(self.ctx, name, Request(self.actor(person), fresh_key(), text=text))

    def incident(self, ref: str) -> Incident:
        with self.ctx.read() as session:
            found = session.scalar(select(Incident).where(Incident.ref == ref))
        assert found is not None
        return found

    def requests(self) -> list[EvidenceRequest]:
        with self.ctx.read() as session:
            return list(session.scalars(select(EvidenceRequest).order_by(EvidenceRequest.id)))

    def request(self, request_id: int = 1) -> EvidenceRequest:
        with self.ctx.read() as session:
            found = session.get(EvidenceRequest, request_id)
        assert found is not None
        return found

    def records(
        self, action: str | None = None, process: str | None = None, subjects: tuple[str, ...] | None = None
    ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(actor, action, subject id, data) of records, oldest first, of one process or subject types
        (``EVIDENCE`` for evidence requests and activities)."""
        query = select(Record).order_by(Record.seq)
        if process is not None:
            query = query.where(Record.process == process)
        if subjects is not None:
            query = query.where(Record.subject_type.in_(subjects))
        if action is not None:
            query = query.where(Record.action == action)
        with self.ctx.read() as session:
            return [
                (r.actor, r.action, r.subject_id, json.loads(r.data) if r.data else {}) for r in session.scalars(query)
            ]

    def close(self) -> None:
        self.runtime.engine.dispose()


def make_world(settings: Settings, clock: FakeClock, org: Path | None = None) -> World:
    """The runtime on ``settings`` (and another organisation file, if given) with a recording chat."""
    if org is not None:
        settings = with_org(settings, org)
    chat = Chat()
    return World(build_runtime(settings, chat, clock=clock, extra_senders={UPLOAD_KIND: chat.upload}), chat, clock)


def programme_world(
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
    programme: list[dict[str, Any]] | None = None,
    **activities: Any,
) -> World:
    """A world whose evidence programme is live from the first tick (see ``org_file``)."""
    return make_world(settings, clock, org_file(tmp_path, programme, live_programme=True, **activities))


def org_file(
    tmp_path: Path,
    programme: list[dict[str, Any]] | None = None,
    *,
    live_programme: bool = True,
    changes: dict[str, Any] | None = None,
    **activities: Any,
) -> Path:
    """The example organisation, with its programme live from the first tick (no go-live date) unless
    ``live_programme`` is false, and optionally another programme, other settings of the
    ``activities`` section, or another ``changes`` section."""
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    if live_programme:
        org["activities"].pop("start")
    if programme is not None:
        org["activities"]["programme"] = programme
    org["activities"].update(activities)
    if changes is not None:
        org["changes"] = changes
    path = tmp_path / f"org-{next(_keys)}.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False), encoding="utf-8")
    return path


def with_org(settings: Settings, path: Path) -> Settings:
    return settings.model_copy(update={"config_path": path})


class OriginRecorder:
    """Stands in for the requesting process (INC): collects what CHG tells it through the interface."""

    def __init__(self) -> None:
        self.events: list[Interface] = []

    def __call__(self, work: object, event: Interface) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[Interface]:
        return [event for event in self.events if event.name == name]


def listen_as_origin(monkeypatch: Any, process: str = "INC") -> OriginRecorder:
    """Replace the origin's receivers for the duration of a test, so only the contract is seen."""
    recorder = OriginRecorder()
    receiving = next(p for p in PROCESSES if p.id == process)
    for name in ("change-status", "change-finished"):
        monkeypatch.setitem(receiving.receives, name, recorder)
    return recorder


def report_values(**overrides: str) -> dict[str, str]:
    """A complete, valid incident report form."""
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

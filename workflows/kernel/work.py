"""The context every workflow runs in, and the unit of work that makes each step all-or-nothing.

A workflow step opens ``ctx.work(actor)``: inside it, state changes, records and queued effects
share one database transaction. Either all of it is stored or none of it; effects leave only after
commit, through the outbox dispatcher that ``on_commit`` wakes.

Records and effects are collected during the step and written together just before commit (one
insert for all records, one look-up of the keys and one insert for all effects), so a batch of 200
reminders costs a few statements, not a few per reminder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from config.catalogue import Catalogue
from config.organisation import Organisation
from config.templates import Templates
from storage import records
from storage.deliveries import first_time
from storage.outbox import enqueue_many
from workflows.kernel.actors import Actor
from workflows.kernel.channels import ChannelMembers
from workflows.kernel.directory import DirectorySource
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message

if TYPE_CHECKING:
    from workflows.kernel.process import Process

CHAT_KIND = "chat.message"


@dataclass
class Work:
    """One all-or-nothing step of a workflow."""

    ctx: Context
    session: Session
    actor: Actor
    now: datetime
    queued: int = 0
    """Effects written to the outbox by ``flush`` (an effect whose key is already there is not)."""
    _records: list[records.Entry] = field(default_factory=list)
    _effects: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def record(
        self,
        process: str,
        action: str,
        subject: tuple[str, str],
        data: Mapping[str, Any] | None = None,
        *,
        retain: timedelta | None = None,
    ) -> None:
        """Append to the records log in this transaction.

        Unless ``retain`` says otherwise, the data is kept for the organisation's retention period of
        the process (``retention_days``), after which the retention sweep erases it.
        """
        if retain is None:
            days = self.ctx.org.retention(process)
            retain = timedelta(days=days) if days is not None else None
        retain_until = self.now + retain if retain is not None else None
        self._records.append(
            records.Entry(self.now, self.actor.id, process, action, subject[0], subject[1], data or {}, retain_until)
        )

    def notify(
        self,
        to: Recipient,
        message: Message,
        key: str,
        *,
        thread_of: str | None = None,
        replaces: str | None = None,
        in_channel_of: str | None = None,
    ) -> None:
        """Queue a chat message. ``thread_of``/``replaces`` name the key of an earlier message;
        ``in_channel_of`` the key of an earlier effect that created the channel to post in (its id is
        only known once that effect was sent; ``to`` then only names it for surfaces without one)."""
        payload: dict[str, Any] = {"to": str(to), "message": message.to_dict()}
        if thread_of:
            payload["thread_of"] = thread_of
        if replaces:
            payload["replaces"] = replaces
        if in_channel_of:
            payload["in_channel_of"] = in_channel_of
        self.effect(CHAT_KIND, key, payload)

    def effect(self, kind: str, key: str, payload: Mapping[str, Any]) -> None:
        """Queue any outside effect (ticket, mail, calendar) under an idempotency key; an effect whose key
        was queued before (in this step or any earlier one) is queued only once, the first time."""
        self._effects.setdefault(key, (kind, dict(payload)))

    def flush(self) -> None:
        """Write the records and effects collected so far (``ctx.work`` does it before commit)."""
        entries, self._records = self._records, []
        if entries:
            records.append(self.session, entries)
        effects, self._effects = self._effects, {}
        if effects:
            self.queued += enqueue_many(self.session, effects, self.now)

    def once(self, key: str) -> bool:
        """True the first time this request key is seen (Slack retries, double clicks)."""
        return first_time(self.session, key, self.now)


@dataclass
class Context:
    """Everything a workflow needs, and nothing that talks to Slack, Jira or Graph directly."""

    org: Organisation
    catalogue: Catalogue
    sessions: sessionmaker[Session]
    templates: Templates
    clock: Callable[[], datetime]
    on_commit: Callable[[], None] = field(default=lambda: None)
    anchors: records.Anchors = field(default_factory=records.Anchors)
    """Where the records chain is anchored outside the database (seal key, heads file)."""
    reads: sessionmaker[Session] | None = None
    """Sessions that only read (on SQLite they never wait for the write lock); ``sessions`` if unset."""
    processes: tuple[Process, ...] = ()
    """The process packages' descriptors (``workflows/registry.py``): routes, due work, Home, help, interfaces."""
    directory: DirectorySource | None = None
    """The organisation's directory (Entra ID) when Microsoft 365 is configured and signed in."""
    channels: ChannelMembers | None = None
    """Who is in a Slack channel, when the bot runs with Slack (None in the console)."""

    @contextmanager
    def work(self, actor: Actor) -> Iterator[Work]:
        with self.sessions.begin() as session:
            unit = Work(self, session, actor, self.clock())
            yield unit
            unit.flush()
        if unit.queued:
            self.on_commit()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; nothing written in it is stored."""
        with (self.reads or self.sessions)() as session:
            yield session

    def before_outside_read(self) -> None:
        """Call before asking Slack or Graph something that can take seconds (a channel's members): a
        request tried read-only while Slack waits for its 3-second ack stops here, as at its first
        write, and runs in an intake worker instead. Begins (and ends) an empty write transaction."""
        with self.sessions.begin():
            pass

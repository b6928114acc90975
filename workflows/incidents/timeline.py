"""What an incident's steps leave for people, in the step's unit of work: the triage post in the
security team's channel (one message kept up to date in place), one line in its thread per step
(the incident's timeline), and direct messages to the reporter and to named people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from storage.models.incident_rooms import IncidentRoom
from storage.models.incidents import Incident, IncidentEntry
from workflows.incidents import messages
from workflows.incidents.service import changes_of, clocks_of, room_of
from workflows.kernel.people import when
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message
from workflows.kernel.work import Work

TRIAGE_CHANNEL = Recipient.channel("security_triage")


def triage_key(incident: Incident) -> str:
    """Outbox key of the triage post; every update replaces it and every line threads under it."""
    return f"inc:{incident.ref}:triage"


def triage_message(work: Work, incident: Incident) -> Message:
    """The triage post as the incident stands in this unit of work."""
    session = work.session
    return messages.triage_message(
        work.ctx,
        incident,
        clocks_of(session, incident),
        changes_of(session, incident),
        work.now,
        room_of(session, incident),
    )


def post_triage(work: Work, incident: Incident) -> None:
    """The first post of a new report in the security team's channel (nothing to read: a new report
    has no clocks and no requested changes when it is first posted)."""
    message = messages.triage_message(work.ctx, incident, [], [], work.now)
    work.notify(TRIAGE_CHANNEL, message, triage_key(incident))


def refresh_post(work: Work, incident: Incident) -> None:
    """Replace the triage post, and the pinned summary in the incident's channel while it is open,
    with the incident as it is now (a new key per revision; the incident's rows are read once)."""
    incident.revision += 1
    incident.updated_at = work.now
    work.session.flush()
    post = triage_message(work, incident)
    work.notify(TRIAGE_CHANNEL, post, f"inc:{incident.ref}:triage:r{incident.revision}", replaces=triage_key(incident))
    room = room_of(work.session, incident)
    if room is not None and room.archived_at is None and room.error is None:
        work.notify(
            Recipient.channel(room.name),
            room_summary(work, incident, room, post),
            f"{summary_key(incident.ref)}:r{incident.revision}",
            replaces=summary_key(incident.ref),
        )


def room_key(ref: str) -> str:
    """Outbox key of the effect that creates the incident's channel; its answer holds the channel id."""
    return f"inc:{ref}:room"


def summary_key(ref: str) -> str:
    """Outbox key of the summary pinned in the incident's channel; updates replace it."""
    return f"inc:{ref}:room:summary"


def room_summary(work: Work, incident: Incident, room: IncidentRoom, post: Message | None = None) -> Message:
    """The pinned summary: the triage post's facts (``post``, when the caller has it) without its buttons."""
    post = post or triage_message(work, incident)
    after = ""
    if room.archive_at is not None:
        after = f" This channel will be archived on {when(room.archive_at, work.ctx.org.zone)}."
    footer = (
        'Kept up to date by the ISMS bot. Use the message shortcut "Add to incident timeline" on a message '
        f"here to add it to the timeline of {incident.ref}.{after}"
    )
    return replace(post, text=f"Summary: {post.text}", buttons=(), footer=footer)


def add_line(
    work: Work,
    incident: Incident,
    kind: str,
    text: str,
    *,
    key: str | None = None,
    entry_text: str | None = None,
    at: datetime | None = None,
    actor_id: str | None = None,
) -> None:
    """One timeline entry, posted as a line in the incident's triage thread.

    ``key`` names the line's message when the caller has a unique one (a timer's line: its timer id);
    otherwise the entry is written at once to key the message by its id. With a key, entries of a
    whole batch are inserted together at commit. A message added from Slack keeps its own author and
    time (``actor_id``, ``at``) and its text (``entry_text``) apart from the line posted about it.
    """
    entry = IncidentEntry(
        incident_id=incident.id,
        at=at or work.now,
        actor_id=actor_id or work.actor.id,
        kind=kind,
        text=text if entry_text is None else entry_text,
    )
    work.session.add(entry)
    if key is None:
        work.session.flush()
        key = f"inc:{incident.ref}:entry:{entry.id}"
    work.notify(TRIAGE_CHANNEL, Message(text=text), key, thread_of=triage_key(incident))


def has_entry(work: Work, incident: Incident, kind: str, actor_id: str) -> bool:
    """Whether ``actor_id`` already left a timeline entry of ``kind`` on the incident."""
    query = select(IncidentEntry.id).where(
        IncidentEntry.incident_id == incident.id, IncidentEntry.kind == kind, IncidentEntry.actor_id == actor_id
    )
    return work.session.scalar(query.limit(1)) is not None


def tell_reporter(work: Work, incident: Incident, event: str, **values: str) -> None:
    """A status change for the reporter, by direct message. Never carries notes or the timeline."""
    work.notify(
        Recipient.parse(incident.reporter_to),
        messages.reporter_message(work.ctx, incident, event, **values),
        f"inc:{incident.ref}:reporter:{incident.revision}:{event}",
    )


def tell_people(work: Work, person_ids: Iterable[str], message: Message, key: str) -> None:
    """The same direct message to several people, each under its own idempotency key."""
    for person_id in dict.fromkeys(person_ids):
        work.notify(Recipient.person(person_id), message, f"{key}:{person_id}")

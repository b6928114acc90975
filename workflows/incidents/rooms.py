"""An incident's own channel: a private Slack channel for a serious incident, opened once, kept in
step with the incident and archived after closure.

The workflow only decides and queues; the Slack adapter (integrations/slack_rooms.py) acts. Opening
a room writes its ``incident_rooms`` row (unique per incident, so a second room is impossible) and
queues, under keys named for the incident, the channel's creation, one invitation per person (the
handler, the security team, the emergency contacts), the summary post and its pin. Every later change
of the incident replaces the summary in place. A tick copies the channel id Slack answered into the
row (and links the channel from the triage post), and queues the archiving once ``archive_at`` came.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.incident_rooms import IncidentRoom
from storage.models.incidents import Incident
from storage.models.outbox import OutboxEffect
from storage.outbox import DEAD, SENT
from workflows.incidents import messages, timeline
from workflows.incidents.lifecycle import ESCALATION_ROLES, IncidentStatus, status_of
from workflows.incidents.service import room_of
from workflows.kernel.batches import run_batches
from workflows.kernel.people import plural, with_role
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Context, Work

CHANNEL_KIND = "slack.channel"
INVITE_KIND = "slack.invite"
PIN_KIND = "slack.pin"
ARCHIVE_KIND = "slack.archive"
"""Outbox effect kinds of the room; the Slack adapter sends them (the console has no channels)."""

MAX_NAME = 80
"""Slack's longest channel name."""
_TEAM = (Role.SECURITY_TEAM,)
FINISHED = frozenset({IncidentStatus.CLOSED, IncidentStatus.NOT_INCIDENT})
"""States after which an incident's channel is archived (``room_archive_after`` later)."""


def channel_name(incident: Incident) -> str:
    """``inc-2026-0042-<slug>``: the reference, then the headline's first words as Slack allows them
    (lower case letters, digits, hyphens; at most 80 characters)."""
    ascii_text = unicodedata.normalize("NFKD", messages.headline(incident)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    name = f"{incident.ref.lower()}-{slug}"[:MAX_NAME].rstrip("-") if slug else incident.ref.lower()
    return name


def members(work: Work, incident: Incident) -> list[str]:
    """Who is invited: the handler, the security team and the emergency contacts (or, without any
    named, the security lead and the ISMS manager), each once."""
    org = work.ctx.org
    contacts = list(org.incidents.emergency_contacts) or with_role(org, *ESCALATION_ROLES)
    handler = [incident.handler_id] if incident.handler_id else []
    return list(dict.fromkeys([*handler, *with_role(org, *_TEAM), *contacts]))


def open_room(work: Work, incident: Incident, why: str) -> IncidentRoom | None:
    """Open the incident's room unless it has one; returns the new room (None when there was one)."""
    if room_of(work.session, incident) is not None:
        return None
    room = IncidentRoom(
        incident_id=incident.id, name=channel_name(incident), opened_at=work.now, opened_by=work.actor.id
    )
    work.session.add(room)
    work.session.flush()
    people = members(work, incident)
    work.record("INC", "room-opened", ("incident", incident.ref), {"channel": room.name, "why": why, "invited": people})
    work.effect(CHANNEL_KIND, timeline.room_key(incident.ref), {"name": room.name})
    invite(work, incident, people)
    work.notify(
        Recipient.channel(room.name),
        timeline.room_summary(work, incident, room),
        timeline.summary_key(incident.ref),
        in_channel_of=timeline.room_key(incident.ref),
    )
    work.effect(PIN_KIND, f"{timeline.summary_key(incident.ref)}:pin", {"message": timeline.summary_key(incident.ref)})
    names = messages.names(work.ctx, people)
    timeline.add_line(work, incident, "room", f"Incident channel #{room.name} opened ({why}); invited {names}.")
    return room


def invite(work: Work, incident: Incident, people: Iterable[str]) -> None:
    """One invitation per person, keyed by incident and person: asking again invites nobody twice."""
    for person in dict.fromkeys(people):
        work.effect(
            INVITE_KIND,
            f"{timeline.room_key(incident.ref)}:invite:{person}",
            {"room": timeline.room_key(incident.ref), "person": person},
        )


def follow(work: Work, incident: Incident) -> None:
    """After any change of the incident (before its posts are refreshed): open the room of a serious
    incident, invite a new handler, plan the archiving when it is closed or found not to be an
    incident (and take that plan back when it is classified as an incident again in time)."""
    settings = work.ctx.org.incidents
    status = status_of(incident)
    room = room_of(work.session, incident)
    if room is None:
        if status == IncidentStatus.INCIDENT and incident.severity in settings.room_severities:
            open_room(work, incident, f"severity {incident.severity}")
        return
    if incident.handler_id and status == IncidentStatus.INCIDENT:
        invite(work, incident, [incident.handler_id])
    if status in FINISHED and room.archive_at is None:
        room.archive_at = work.now + settings.room_archive_after
        work.record("INC", "room-archive-planned", ("incident", incident.ref), {"at": room.archive_at.isoformat()})
    elif status == IncidentStatus.INCIDENT and room.archive_at is not None and room.archived_at is None:
        room.archive_at = None  # classified as an incident again before its channel was archived
        work.record("INC", "room-archive-cancelled", ("incident", incident.ref))


# -- due work: what Slack answered, and the archiving after closure ------------------------------------


def _incidents(work: Work, room_ids: Sequence[int]) -> list[tuple[IncidentRoom, Incident]]:
    query = (
        select(IncidentRoom, Incident)
        .join(Incident, Incident.id == IncidentRoom.incident_id)
        .where(IncidentRoom.id.in_(room_ids))
        .order_by(Incident.id)
    )
    return [(room, incident) for room, incident in work.session.execute(query)]


def collect_rooms(ctx: Context) -> None:
    """Copy the channel id Slack answered (or why it refused) into each room whose create effect has
    finished, record it, and link the channel from the triage post."""
    finished = OutboxEffect.key == literal("inc:") + Incident.ref + literal(":room")

    def find(session: Session, limit: int, passed: Collection[int]) -> Sequence[int]:
        query = (
            select(IncidentRoom.id)
            .join(Incident, Incident.id == IncidentRoom.incident_id)
            .join(OutboxEffect, finished)
            .where(
                IncidentRoom.channel_id.is_(None), IncidentRoom.error.is_(None), OutboxEffect.status.in_((SENT, DEAD))
            )
            .order_by(IncidentRoom.id)
            .limit(limit)
        )
        if passed:
            query = query.where(IncidentRoom.id.notin_(passed))
        return list(session.scalars(query))

    run_batches(ctx, "incident rooms opened", find, _collect)


def _collect(work: Work, room_ids: Sequence[int]) -> list[int]:
    done: list[int] = []
    for room, incident in _incidents(work, room_ids):
        effect = work.session.scalar(select(OutboxEffect).where(OutboxEffect.key == timeline.room_key(incident.ref)))
        if effect is None or room.channel_id is not None or room.error is not None:
            continue
        if effect.status == SENT and effect.result and effect.result.get("channel"):
            room.channel_id = str(effect.result["channel"])
            work.record(
                "INC", "room-created", ("incident", incident.ref), {"channel": room.name, "id": room.channel_id}
            )
        else:
            room.error = (effect.last_error or "Slack did not create it").removeprefix("undeliverable: ")[:500]
            work.record("INC", "room-failed", ("incident", incident.ref), {"channel": room.name, "error": room.error})
            timeline.add_line(
                work, incident, "room", f"The incident channel #{room.name} could not be opened: {room.error}"
            )
        timeline.refresh_post(work, incident)
        done.append(room.id)
    return done


def archive_rooms(ctx: Context) -> None:
    """Archive the channels of closed incidents whose time to archive has come (once each)."""
    now = ctx.clock()

    def find(session: Session, limit: int, passed: Collection[int]) -> Sequence[int]:
        query = (
            select(IncidentRoom.id)
            .where(
                IncidentRoom.archived_at.is_(None), IncidentRoom.archive_at <= now, IncidentRoom.channel_id.is_not(None)
            )
            .order_by(IncidentRoom.archive_at, IncidentRoom.id)
            .limit(limit)
        )
        if passed:
            query = query.where(IncidentRoom.id.notin_(passed))
        return list(session.scalars(query))

    run_batches(ctx, "incident rooms archived", find, _archive)


def _archive(work: Work, room_ids: Sequence[int]) -> list[int]:
    done: list[int] = []
    for room, incident in _incidents(work, room_ids):
        if room.archived_at is not None or room.archive_at is None or room.archive_at > work.now:
            continue
        room.archived_at = work.now
        work.effect(
            ARCHIVE_KIND, f"{timeline.room_key(incident.ref)}:archive", {"room": timeline.room_key(incident.ref)}
        )
        work.record("INC", "room-archived", ("incident", incident.ref), {"channel": room.name})
        timeline.add_line(work, incident, "room", f"Incident channel #{room.name} archived.")
        timeline.refresh_post(work, incident)
        done.append(room.id)
    return done


def status_lines(session: Session, ctx: Context, now: datetime) -> list[str]:
    """``/isms status``: the incident channels, counted by where they stand (nothing when there are none)."""
    opened = IncidentRoom.channel_id.is_not(None)
    live = opened & IncidentRoom.archived_at.is_(None)
    waiting = IncidentRoom.channel_id.is_(None) & IncidentRoom.error.is_(None)
    row = session.execute(
        select(
            func.count(),
            func.count().filter(opened),
            func.count().filter(live),
            func.count().filter(waiting),
            func.count().filter(live & (IncidentRoom.archive_at <= now)),
            func.count().filter(IncidentRoom.error.is_not(None)),
        ).select_from(IncidentRoom)
    ).one()
    total, created, open_now, pending, due, failed = (int(value or 0) for value in row)
    if not total:
        return []
    # a channel Slack has not created yet (queued, or the console, which has none) is not "opened"
    counts = [f"{open_now:,} open", f"{plural(created, 'channel')} opened in all"]
    if pending:
        counts.append(f"{pending:,} being opened")
    lines = ["Incident channels: " + ", ".join(counts)]
    if due:
        lines.append(f"{plural(due, 'channel')} to be archived at the next tick")
    if failed:
        lines.append(f"{plural(failed, 'channel')} Slack refused to create (see the triage threads)")
    return lines

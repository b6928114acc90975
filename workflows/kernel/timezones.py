"""Whose clock a reminder follows: the person's Slack timezone, else the organisation file's.

Slack knows where people are (users.info ``tz``); an adapter asks it through the ``lookup`` port that
``refresh_timezones`` receives, and the answer is cached here, so quiet hours never wait on Slack.
Fallbacks: the person's ``timezone`` in the organisation file, then the organisation's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from config.organisation import Organisation
from storage.db import is_postgresql
from storage.models.people import PersonTimezone
from workflows.kernel.work import Context

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(days=1)
TimezoneLookup = Callable[[str], str | None]
"""Slack user id -> IANA timezone name (None when unknown); raises when Slack cannot answer now."""


def zones_for(session: Session, org: Organisation, person_ids: Iterable[str]) -> dict[str, ZoneInfo]:
    """The zone of each person, with one query for the whole batch."""
    wanted = set(person_ids)
    rows = session.execute(
        select(PersonTimezone.person_id, PersonTimezone.tz).where(PersonTimezone.person_id.in_(wanted))
    )
    cached = {person_id: tz for person_id, tz in rows}
    return {person_id: _zone(org, person_id, cached.get(person_id)) for person_id in wanted}


def zone_for(session: Session, org: Organisation, person_id: str) -> ZoneInfo:
    """The zone of one person; ``zones_for`` reads a whole batch in one query."""
    return zones_for(session, org, [person_id])[person_id]


def _zone(org: Organisation, person_id: str, cached: str | None) -> ZoneInfo:
    person = org.person(person_id)
    for name in (cached, person.timezone if person else None):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("ignoring unknown timezone %r of %s", name, person_id)
    return org.zone


def refresh_timezones(ctx: Context, lookup: TimezoneLookup, now: datetime | None = None) -> int:
    """Ask Slack for the timezone of everybody listed whose cached one is missing or a day old."""
    now = now or ctx.clock()
    with ctx.read() as session:
        fresh = set(
            session.scalars(select(PersonTimezone.person_id).where(PersonTimezone.fetched_at > now - REFRESH_AFTER))
        )
    updated = 0
    for person in ctx.org.people:
        if person.slack_id is None or person.id in fresh:
            continue
        try:
            tz = lookup(person.slack_id)
        except Exception as error:  # Slack down or throttling: keep the fallback, try again next time
            log.info("timezone of %s not refreshed: %s", person.id, error)
            continue
        if tz:
            remember_timezone(ctx, person.id, tz, now)
            updated += 1
    return updated


def remember_timezone(ctx: Context, person_id: str, tz: str, now: datetime) -> None:
    """Insert or update in one statement: the scheduler and a request may refresh the same person at once."""
    with ctx.sessions.begin() as session:
        insert = postgresql.insert if is_postgresql(session) else sqlite.insert
        session.execute(
            insert(PersonTimezone)
            .values(person_id=person_id, tz=tz, fetched_at=now)
            .on_conflict_do_update(index_elements=[PersonTimezone.person_id], set_={"tz": tz, "fetched_at": now})
        )

"""Queries on the directory cache: a person's roles, manager chain and department, and how old it is.

Rule where the organisation file and the directory disagree (README, "Microsoft 365"):
- roles: a person holds the roles the file gives them plus the roles their Entra ID groups grant
  (``microsoft365.group_roles``). The file wins for the roles it names: a role the file gives is kept
  even when no group grants it (a conflict, recorded once);
- manager: the file's ``manager`` wins; the directory's manager is used for people the file gives none;
- department: only the directory has it;
- somebody the directory does not have keeps what the file says (recorded once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.organisation import Organisation, Role
from storage.models.directory import DirectoryConflict, DirectoryPerson, DirectorySync
from workflows.kernel.access import require
from workflows.kernel.actors import Actor
from workflows.kernel.directory import with_directory_roles
from workflows.kernel.people import ago
from workflows.kernel.recipients import Recipient
from workflows.kernel.ui import Message, Outcome
from workflows.kernel.work import Context

HOME_ITEMS = 10
"""Open conflicts shown at most in ``/isms directory``."""

__all__ = ["with_directory_roles"]

SYNC = "directory"
"""The name of the one ``directory_sync`` row."""


def cached(session: Session, email: str) -> DirectoryPerson | None:
    return session.get(DirectoryPerson, email.strip().lower())


def sync_state(session: Session) -> DirectorySync | None:
    return session.get(DirectorySync, SYNC)


@dataclass(frozen=True)
class CacheAge:
    """How old the directory's answers are, for people to read next to them."""

    synced_at: datetime | None
    now: datetime
    error: str | None = None

    @property
    def age(self) -> timedelta | None:
        return self.now - self.synced_at if self.synced_at else None

    def describe(self) -> str:
        if self.synced_at is None:
            base = "the directory has not been read yet"
        else:
            base = f"directory data as of {ago(self.now - self.synced_at)}"
        return f"{base} ({self.error})" if self.error else base


def cache_age(ctx: Context, session: Session) -> CacheAge:
    state = sync_state(session)
    return CacheAge(state.synced_at if state else None, ctx.clock(), state.error if state else None)


def is_stale(ctx: Context, session: Session) -> bool:
    """The cache is older than ``microsoft365.refresh_minutes`` (or was never filled)."""
    state = sync_state(session)
    if state is None or state.synced_at is None:
        return True
    return ctx.clock() - state.synced_at >= timedelta(minutes=ctx.org.microsoft365.refresh_minutes)


def directory_roles(session: Session, email: str | None) -> frozenset[Role]:
    row = cached(session, email) if email else None
    if row is None or not row.found:
        return frozenset()
    return frozenset(Role(role) for role in row.roles if role in Role.__members__.values())


def manager_chain(ctx: Context, person_id: str, depth: int = 5) -> list[Recipient]:
    """Who a person's escalations go to, nearest first: the file's manager where it names one, else
    the directory's (a listed person by e-mail, or the e-mail itself), ``depth`` levels at most."""
    chain: list[Recipient] = []
    seen = {person_id}
    current: Recipient = Recipient.person(person_id)
    with ctx.read() as session:
        for _ in range(depth):
            following = _manager_of(ctx.org, session, current)
            if following is None or following.id in seen:
                break
            seen.add(following.id)
            chain.append(following)
            current = following
    return chain


def _manager_of(org: Organisation, session: Session, who: Recipient) -> Recipient | None:
    email = who.id if who.kind == "email" else None
    if who.kind == "person":
        person = org.person(who.id)
        if person is None:
            return None
        if person.manager:
            return Recipient.person(person.manager)
        email = person.email
    row = cached(session, email) if email else None
    if row is None or not row.manager_email:
        return None
    listed = org.find(email=row.manager_email)
    return Recipient.person(listed.id) if listed else Recipient("email", row.manager_email)


def department(ctx: Context, person_id: str) -> str | None:
    person = ctx.org.person(person_id)
    if person is None or person.email is None:
        return None
    with ctx.read() as session:
        row = cached(session, person.email)
        return row.department if row is not None else None


def departments(session: Session) -> dict[str, str]:
    """Person id → department, for completion statistics."""
    rows = session.execute(
        select(DirectoryPerson.person_id, DirectoryPerson.department).where(
            DirectoryPerson.person_id.is_not(None), DirectoryPerson.department.is_not(None)
        )
    )
    return {str(person): str(dept) for person, dept in rows}


def overview(ctx: Context, actor: Actor) -> Outcome:
    """``/isms directory``: whether the directory is on, how old its answers are, open conflicts."""
    require(ctx, actor, {Role.ISMS_MANAGER, Role.AUDITOR}, process="RES", what="the directory overview")
    with ctx.read() as session:
        age = cache_age(ctx, session)
        people = session.scalar(select(func.count()).select_from(DirectoryPerson)) or 0
        missing = session.scalar(select(func.count()).where(DirectoryPerson.found.is_(False))) or 0
        conflicts = list(
            session.scalars(
                select(DirectoryConflict)
                .where(DirectoryConflict.resolved_at.is_(None))
                .order_by(DirectoryConflict.first_seen_at)
                .limit(HOME_ITEMS)
            )
        )
    if ctx.directory is None and age.synced_at is None:
        return Outcome(
            reply=Message(text="Microsoft 365 is not in use: roles and managers come from the organisation file.")
        )
    state = "on" if ctx.directory is not None else "off (see the start-up log)"
    fields = (("directory", state), ("people followed", f"{people:,}"), ("not in the directory", f"{missing:,}"))
    body = "\n".join(f"• {c.person}: {c.detail}" for c in conflicts) or "No disagreement with the organisation file."
    return Outcome(reply=Message(text=f"Entra ID directory: {age.describe()}", body=body, fields=fields))

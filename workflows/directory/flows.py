"""Refreshing the directory cache from Entra ID, and recording what changed and where the
organisation file and the directory disagree (each disagreement once while it lasts).

The directory is read first, outside any transaction (it may be slow or throttled); what it said is
then compared with the cache and written in one unit of work with its records. When the directory
cannot answer, nothing in the cache changes: lookups keep using it and say how old it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select

from config.organisation import Organisation, Role
from storage.models.directory import DirectoryConflict, DirectoryPerson, DirectorySync
from workflows.directory.service import SYNC, CacheAge, cache_age
from workflows.kernel.actors import SYSTEM, Actor
from workflows.kernel.directory import DirectorySource, DirectoryUnavailable, DirectoryUser
from workflows.kernel.people import plural
from workflows.kernel.work import Context, Work

log = logging.getLogger(__name__)

PROCESS = "RES"
"""Records about people, roles and responsibilities belong to resource management (TS 27022 RES)."""


@dataclass(frozen=True)
class Seen:
    """One person as the directory answered, before it is compared with the cache."""

    email: str
    person_id: str | None
    user: DirectoryUser | None
    manager_email: str | None
    roles: tuple[str, ...]


@dataclass
class SyncReport:
    configured: bool
    changes: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    error: str | None = None
    age: CacheAge | None = None

    def lines(self) -> list[str]:
        if not self.configured:
            return [
                "Microsoft 365 is off (MSGRAPH_* not set, or its sign-in was refused: see the line above): "
                "roles and managers come from the organisation file."
            ]
        if self.error:
            age = f"; lookups use the cache: {self.age.describe()}" if self.age else ""
            return [f"Directory not refreshed: {self.error}{age}"]
        lines = [
            f"Directory refreshed: {plural(len(self.changes), 'change')}, "
            f"{plural(len(self.conflicts), 'new conflict')}."
        ]
        lines += [f"  changed: {line}" for line in self.changes]
        lines += [f"  conflict: {line}" for line in self.conflicts]
        return lines


def read_directory(org: Organisation, source: DirectorySource) -> list[Seen]:
    """Everything the cache holds, as the directory says it now (raises ``DirectoryUnavailable``)."""
    roles_by_user: dict[str, set[str]] = {}
    users: dict[str, DirectoryUser] = {}
    for group_id, roles in org.microsoft365.group_roles.items():
        for user in source.group_members(group_id):
            users[user.id] = user
            roles_by_user.setdefault(user.id, set()).update(role.value for role in roles)
    seen: list[Seen] = []
    emails: set[str] = set()
    for person in org.people:
        if person.email is None or person.email.lower() in emails:
            continue
        email = person.email.lower()
        emails.add(email)
        found = source.user_by_email(email)
        manager = source.manager(found.id) if found is not None else None
        granted = tuple(sorted(roles_by_user.get(found.id, set()))) if found else ()
        boss = (manager.mail or "").lower() or None if manager else None
        seen.append(Seen(email, person.id, found, boss, granted))
    for user_id, user in users.items():  # in a mapped group but not in the file
        email = (user.mail or "").lower()
        if not email or email in emails:
            continue
        emails.add(email)
        seen.append(Seen(email, None, user, None, tuple(sorted(roles_by_user[user_id]))))
    return seen


def sync(ctx: Context, actor: Actor = SYSTEM) -> SyncReport:
    """Refresh the cache now. Without a directory this changes nothing and says so."""
    source = ctx.directory
    if source is None:
        return SyncReport(configured=False)
    try:
        seen = read_directory(ctx.org, source)
    except DirectoryUnavailable as error:
        with ctx.work(actor) as work:
            _failed(work, str(error))
        with ctx.read() as session:
            age = cache_age(ctx, session)
        log.warning("directory refresh failed (%s); using the cache: %s", error, age.describe())
        return SyncReport(configured=True, error=str(error), age=age)
    report = SyncReport(configured=True)
    with ctx.work(actor) as work:
        _store(work, seen, report)
        _check_conflicts(work, ctx.org, seen, report)
        state = work.session.get(DirectorySync, SYNC)
        if state is None:
            work.session.add(DirectorySync(name=SYNC, synced_at=work.now, attempted_at=work.now, failures=0))
        else:
            state.synced_at, state.attempted_at, state.failures, state.error = work.now, work.now, 0, None
        if report.changes:
            work.record(PROCESS, "directory-refreshed", ("directory", "entra-id"), {"changes": report.changes[:200]})
    return report


def _failed(work: Work, error: str) -> None:
    state = work.session.get(DirectorySync, SYNC)
    if state is None:
        work.session.add(DirectorySync(name=SYNC, synced_at=None, attempted_at=work.now, failures=1, error=error))
    else:
        state.attempted_at, state.failures, state.error = work.now, state.failures + 1, error[:500]


def _store(work: Work, seen: list[Seen], report: SyncReport) -> None:
    session = work.session
    known = {row.email: row for row in session.scalars(select(DirectoryPerson))}
    for entry in seen:
        user = entry.user
        values = {
            "person_id": entry.person_id,
            "found": user is not None,
            "entra_id": user.id if user else None,
            "name": user.name if user else None,
            "department": user.department if user else None,
            "manager_email": entry.manager_email,
            "roles": list(entry.roles),
        }
        row = known.pop(entry.email, None)
        if row is None:
            session.add(DirectoryPerson(email=entry.email, fetched_at=work.now, **values))
            if user is not None:
                report.changes.append(_describe(entry.email, None, values))
            continue
        before = {name: getattr(row, name) for name in values}
        if before != values:
            report.changes.append(_describe(entry.email, before, values))
            for name, value in values.items():
                setattr(row, name, value)
        row.fetched_at = work.now
    for email, row in known.items():  # no longer in the file nor in a mapped group
        report.changes.append(f"{email}: no longer followed")
        session.delete(row)


def _describe(email: str, before: Mapping[str, object] | None, after: Mapping[str, object]) -> str:
    if before is None:
        roles = ", ".join(str(role) for role in after["roles"]) or "no mapped role"  # type: ignore[attr-defined]
        department, manager = after["department"] or "-", after["manager_email"] or "-"
        return f"{email}: found ({roles}; department {department}; manager {manager})"
    parts = [f"{name} {before[name]!r} → {after[name]!r}" for name in after if before[name] != after[name]]
    return f"{email}: " + "; ".join(parts)


def _check_conflicts(work: Work, org: Organisation, seen: list[Seen], report: SyncReport) -> None:
    managed = {role for roles in org.microsoft365.group_roles.values() for role in roles}
    current: dict[str, tuple[str, str, str]] = {}
    for entry in seen:
        person = org.person(entry.person_id) if entry.person_id else None
        if person is None:
            continue
        if entry.user is None:
            current[f"missing:{entry.email}"] = (
                entry.email,
                "missing",
                f"{person.id} is not in the directory; the organisation file stands",
            )
            continue
        for role in sorted(set(person.roles) & managed - {Role(r) for r in entry.roles}):
            current[f"role:{entry.email}:{role.value}"] = (
                entry.email,
                "role",
                f"the file gives {person.id} the role {role.value}, no mapped group does; the file wins",
            )
        if person.manager and entry.manager_email:
            manager = org.person(person.manager)
            if manager is not None and (manager.email or "").lower() != entry.manager_email:
                current[f"manager:{entry.email}"] = (
                    entry.email,
                    "manager",
                    f"the file names {manager.id} as {person.id}'s manager, the directory {entry.manager_email}; "
                    "the file wins",
                )
    _record_conflicts(work, current, report)


def _record_conflicts(work: Work, current: dict[str, tuple[str, str, str]], report: SyncReport) -> None:
    session = work.session
    open_rows = {row.key: row for row in session.scalars(select(DirectoryConflict))}
    for key, (person, kind, detail) in current.items():
        row = open_rows.get(key)
        if row is not None and row.resolved_at is None:
            row.last_seen_at = work.now
            continue
        if row is None:
            session.add(
                DirectoryConflict(
                    key=key, person=person, kind=kind, detail=detail, first_seen_at=work.now, last_seen_at=work.now
                )
            )
        else:  # it had gone away and is back: a new conflict
            row.detail, row.first_seen_at, row.last_seen_at, row.resolved_at = detail, work.now, work.now, None
        report.conflicts.append(f"{person}: {detail}")
        action = "directory-missing-person" if kind == "missing" else "directory-conflict"
        work.record(PROCESS, action, ("person", person), {"kind": kind, "detail": detail})
    for key, row in open_rows.items():
        if key not in current and row.resolved_at is None:
            row.resolved_at = work.now
            report.changes.append(f"{row.person}: conflict resolved ({row.kind})")

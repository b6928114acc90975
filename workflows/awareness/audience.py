"""Who a campaign reaches: an audience written as one short text, resolved to the people it names.

``everyone``; ``role:owner``; ``department:Sales``; ``people:alice,erin@example.org``; or
``group:<Entra ID group id>`` (its members the organisation file lists, when Microsoft 365 is on).
Departments come from the organisation file's ``awareness.departments``, and for people it does not
place, from the directory's cache. The text is stored with the campaign, so everybody can see later
whom it was meant for.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from config.organisation import Organisation, Role
from workflows.directory.service import departments as directory_departments
from workflows.kernel.directory import DirectoryUnavailable
from workflows.kernel.people import find_person, person_name
from workflows.kernel.work import Context

KINDS = (
    ("everyone", "Everyone"),
    ("role", "A role"),
    ("department", "A department"),
    ("people", "Listed people"),
    ("group", "A Microsoft 365 group"),
)
MAX_PEOPLE_TEXT = 190
GROUP_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class AudienceError(ValueError):
    """The audience cannot be resolved; the message says what to fix."""


def spec(kind: str, value: str) -> str:
    """The stored text of an audience chosen in the form."""
    value = " ".join(value.split())
    return "everyone" if kind == "everyone" else f"{kind}:{value}"


def described(org: Organisation, audience: str) -> str:
    """An audience as people read it ("everyone with the role ISMS manager", "the Sales department",
    names for listed people), not its stored text."""
    kind, _, value = audience.partition(":")
    value = value.strip()
    if kind == "role":
        return f"everyone with the role {Role(value).label if value in set(Role) else value}"
    if kind == "department":
        return f"the {value} department"
    if kind == "people":
        return ", ".join(person_name(org, _person_id(org, name)) for name in value.split(",") if name.strip())
    if kind == "group":
        return f"the members of Microsoft 365 group {value}"
    return audience


def _person_id(org: Organisation, name: str) -> str:
    person = find_person(org, name)
    return person.id if person else name.strip()


def department_map(ctx: Context, session: Session) -> dict[str, str]:
    """Person id -> department: the organisation file's, then the directory's for the others (read in
    the caller's session: inside a unit of work a second one would wait for its lock on SQLite)."""
    found = directory_departments(session)
    found.update(ctx.org.awareness.department_of())
    return found


def resolve(ctx: Context, session: Session, audience: str) -> list[str]:
    """The person ids of an audience, in the order of the organisation file; raises AudienceError."""
    kind, _, value = audience.partition(":")
    value = value.strip()
    if kind == "everyone":
        people = [person.id for person in ctx.org.people]
    elif kind == "role":
        if value not in {role.value for role in Role}:
            raise AudienceError(f"{value or 'That'!r} is not a role; use one of {', '.join(r.value for r in Role)}.")
        people = [person.id for person in ctx.org.people if Role(value) in person.roles]
    elif kind == "department":
        mapping = department_map(ctx, session)
        if value not in set(mapping.values()):
            raise AudienceError(f"I know no department called {value!r}.")
        people = [person.id for person in ctx.org.people if mapping.get(person.id) == value]
    elif kind == "people":
        people = _listed(ctx, value)
    elif kind == "group":
        people = _group(ctx, value)
    else:
        raise AudienceError("Choose who the campaign is for.")
    if not people:
        raise AudienceError("Nobody is in that audience; choose another.")
    return people


def _listed(ctx: Context, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise AudienceError("Name the people, separated by commas (person ids or e-mail addresses).")
    found, unknown = [], []
    for name in names:
        person = find_person(ctx.org, name)
        if person is None:
            unknown.append(name)
        elif person.id not in found:
            found.append(person.id)
    if unknown:
        raise AudienceError(f"Not in the organisation file: {', '.join(unknown)}.")
    return found


def check_group(ctx: Context, value: str) -> None:
    """What can be checked of a group without asking the directory (the form's check before Slack's
    3-second ack must not wait for Microsoft Graph); its members are read when the campaign starts."""
    if ctx.directory is None:
        raise AudienceError("Microsoft 365 is not configured, so groups cannot be used.")
    if not GROUP_ID.match(value.strip()):
        raise AudienceError("Give the group's object id from Entra ID (a GUID).")


def _group(ctx: Context, value: str) -> list[str]:
    check_group(ctx, value)
    assert ctx.directory is not None, "check_group refuses without a directory"
    try:
        members = ctx.directory.group_members(value.strip())
    except DirectoryUnavailable:
        raise AudienceError("The directory does not answer now; please try again later.") from None
    found = []
    for member in members:
        person = ctx.org.find(email=member.mail) if member.mail else None
        if person is not None and person.id not in found:
            found.append(person.id)
    return found

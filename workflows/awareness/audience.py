"""Who a campaign reaches: an audience written as one short text, resolved to the people it names.

``everyone``; ``role:owner``; ``department:Sales``; ``people:alice,erin@example.org``; or
``group:<Entra ID group id>`` (its members the organisation file lists, when Microsoft 365 is on); or
``channel:#name`` / ``channel:C0123`` (the people in a Slack channel, read when the campaign starts).
Departments come from the organisation file's ``awareness.departments``, and for people it does not
place, from the directory's cache. The text is stored with the campaign, so everybody can see later
whom it was meant for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from config.organisation import Organisation, Role
from workflows.directory.service import departments as directory_departments
from workflows.kernel.channels import ChannelsUnavailable, UnknownChannel
from workflows.kernel.directory import DirectoryUnavailable
from workflows.kernel.people import find_person, person_name
from workflows.kernel.work import Context

KINDS = (
    ("everyone", "Everyone"),
    ("role", "A role"),
    ("department", "A department"),
    ("people", "Listed people"),
    ("group", "A Microsoft 365 group"),
    ("channel", "A Slack channel's members"),
)
MAX_PEOPLE_TEXT = 190
GROUP_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9._-]{0,79}$")
UNMAPPED_SHOWN = 20
"""Channel members outside the organisation file named in the reply; the rest are counted."""


class AudienceError(ValueError):
    """The audience cannot be resolved; the message says what to fix."""


@dataclass(frozen=True)
class Members:
    """Whom an audience reaches (person ids, in the order of the organisation file), and the channel
    members the bot could not match to anybody in it (their e-mail, else Slack id): those are told to
    whoever starts the campaign instead of being dropped without a word."""

    people: list[str]
    unmapped: tuple[str, ...] = ()


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
    if kind == "channel":
        return f"the members of Slack channel {value}"
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


def resolve(ctx: Context, session: Session, audience: str) -> Members:
    """The people of an audience, in the order of the organisation file; raises AudienceError."""
    kind, _, value = audience.partition(":")
    value = value.strip()
    if kind == "channel":
        return _channel(ctx, value)
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
    return Members(people)


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


def check_channel(ctx: Context, value: str) -> None:
    """What can be checked of a channel without asking Slack (the form's check before the 3-second
    ack); its members are read when the campaign starts."""
    if ctx.channels is None:
        raise AudienceError(
            "Slack is not connected here, so I cannot read a channel's members; "
            "start this campaign from Slack, or choose another audience."
        )
    if not (CHANNEL_ID.match(value.strip()) or CHANNEL_NAME.match(value.strip())):
        raise AudienceError("Give the channel as #name or as its id (C0123…).")


def _channel(ctx: Context, value: str) -> Members:
    """A channel's members who are in the organisation file (by Slack id, else by e-mail); the others
    are returned as unmapped. Names are looked up in Slack, so renamed channels still resolve."""
    check_channel(ctx, value)
    assert ctx.channels is not None, "check_channel refuses without Slack"
    try:
        channel = value if CHANNEL_ID.match(value) else ctx.channels.channel_id(value.lstrip("#"))
        if channel is None:  # Slack lists no channel by that name: the same answer as an unknown id
            raise UnknownChannel(value)
        known = {person.slack_id for person in ctx.org.people if person.slack_id}
        members = ctx.channels.members(channel, known)
    except UnknownChannel:
        raise AudienceError(
            f"Slack shows me no channel {value}; check the name, or add the bot to it if it is private."
        ) from None
    except ChannelsUnavailable as error:
        raise AudienceError(f"Slack could not tell me who is in {value} ({error}); please try again later.") from None
    found: set[str] = set()
    unmapped: list[str] = []
    for member in members:
        person = ctx.org.find(slack_id=member.slack_id, email=member.email)
        if person is None:
            unmapped.append(member.email or member.slack_id)
        else:
            found.add(person.id)
    if not found:
        outside = f" ({len(unmapped):,} members, none of them in the organisation file)" if unmapped else ""
        raise AudienceError(f"Nobody I know is in {value}{outside}; choose another audience.")
    return Members([person.id for person in ctx.org.people if person.id in found], tuple(unmapped))


def unmapped_text(unmapped: tuple[str, ...]) -> str:
    """The channel members left out, as the person who started the campaign reads them."""
    shown = ", ".join(unmapped[:UNMAPPED_SHOWN])
    rest = len(unmapped) - UNMAPPED_SHOWN
    return shown + (f" and {rest:,} more" if rest > 0 else "")


OUTSIDE = {"group": check_group, "channel": check_channel}
"""Audiences whose members live outside the bot (Microsoft 365, Slack), read when a campaign starts."""


def check(ctx: Context, session: Session, audience: str) -> None:
    """A form's check of an audience, fast enough for Slack's 3-second ack: a group or channel only by
    its syntax (its members are read when the campaign starts), any other audience resolved."""
    kind, _, value = audience.partition(":")
    if kind in OUTSIDE:
        OUTSIDE[kind](ctx, value.strip())
    else:
        resolve(ctx, session, audience)

"""The directory port: what workflows may ask an organisation's directory (Entra ID, through Microsoft
Graph in ``integrations/graph``). Workflows see only this protocol; the adapter is plugged into
``Context.directory`` by the runtime when Microsoft 365 is configured and signs in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from config.organisation import Role
from storage.models.directory import DirectoryPerson
from workflows.kernel.actors import Actor

if TYPE_CHECKING:
    from workflows.kernel.work import Context

ROLE_VALUES = frozenset(role.value for role in Role)


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    name: str
    mail: str | None
    department: str | None = None


class DirectoryUnavailable(Exception):
    """The directory cannot answer now (down, throttling, signed out); callers fall back to the cache."""


class DirectorySource(Protocol):
    def user_by_email(self, email: str) -> DirectoryUser | None:
        """The user with this e-mail, None when the directory has nobody with it."""
        ...

    def manager(self, user_id: str) -> DirectoryUser | None: ...

    def group_members(self, group_id: str) -> list[DirectoryUser]:
        """The users in a group, also through nested groups; empty for an unknown group."""
        ...


def with_directory_roles(ctx: Context, actor: Actor) -> Actor:
    """The actor with the roles their Entra ID groups grant (the directory cache) added to those of
    the organisation file; unchanged when Microsoft 365 is off. The router applies it to every request."""
    if ctx.directory is None or not actor.email:
        return actor
    with ctx.read() as session:
        row = session.get(DirectoryPerson, actor.email.strip().lower())
    if row is None or not row.found:
        return actor
    extra = frozenset(Role(role) for role in row.roles if role in ROLE_VALUES)
    return actor if extra <= actor.roles else replace(actor, roles=actor.roles | extra)

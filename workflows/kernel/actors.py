"""Who is acting: a person from the organisation file, or an unlisted workspace member."""

from __future__ import annotations

from dataclasses import dataclass

from config.organisation import Organisation, Role
from workflows.kernel.recipients import Recipient


@dataclass(frozen=True)
class Actor:
    """The person behind a request. ``id`` is what records name (person id, or ``slack:U…``)."""

    id: str
    name: str
    roles: frozenset[Role]
    slack_id: str | None = None
    email: str | None = None
    listed: bool = True

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def recipient(self) -> Recipient:
        """Where to reach this actor: their person id when listed, else their Slack id or e-mail."""
        if self.listed:
            return Recipient.person(self.id)
        return Recipient("slack", self.slack_id) if self.slack_id else Recipient("email", self.email or "")


SYSTEM = Actor(id="system", name="ISMS bot", roles=frozenset())


def resolve_actor(
    org: Organisation, *, slack_id: str | None = None, email: str | None = None, name: str | None = None
) -> Actor:
    """Find the person; somebody unlisted gets the employee role only if the organisation says so."""
    person = org.find(slack_id=slack_id, email=email)
    if person is not None:
        return Actor(person.id, person.name, frozenset(person.roles), person.slack_id, person.email)
    roles = frozenset({Role.EMPLOYEE}) if org.unlisted_people == "employee" else frozenset()
    ident = f"slack:{slack_id}" if slack_id else f"email:{(email or 'unknown').lower()}"
    return Actor(ident, name or slack_id or email or "unknown", roles, slack_id, email, listed=False)

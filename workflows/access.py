"""Role checks, deny by default. A refusal is itself recorded: auditors want to see attempts."""

from __future__ import annotations

from workflows.actors import Actor
from workflows.context import Context


class Denied(Exception):
    """The actor may not do this. The message is safe to show to them."""


def require(
    ctx: Context,
    actor: Actor,
    roles: set[str] | frozenset[str],
    *,
    process: str,
    what: str,
    subject: tuple[str, str] = ("action", "-"),
) -> None:
    """Raise ``Denied`` (after recording the attempt) unless the actor has one of ``roles``."""
    if actor.has(*roles):
        return
    with ctx.work(actor) as work:
        work.record(process, "access-denied", subject, {"attempted": what, "roles": sorted(actor.roles)})
    raise Denied(f"Sorry, {what} is for {_readable(roles)} only. This attempt has been recorded.")


def _readable(roles: set[str] | frozenset[str]) -> str:
    names = sorted(role.replace("_", " ") for role in roles)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

"""Who may do what, deny by default, and the one way every step says no.

``Refused`` is the only refusal: a missing role, an item that is not theirs, a step the item's state
does not allow. The router turns it into the same polite message in Slack and the console. A refusal
for lack of a role is itself recorded: auditors want to see attempts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from config.organisation import Role, role_labels
from storage.refusals import first_refusal
from workflows.kernel.actors import Actor
from workflows.kernel.people import person_name
from workflows.kernel.work import Context

EVERYONE = frozenset(Role)


class Refused(Exception):
    """The person may not do this, or not now. The message is safe to show to them."""


@dataclass(frozen=True)
class Allowed:
    """Who may act: anybody with one of ``roles``, the item's ``owner`` (a person id) if given, and the
    people ``named`` on the item for this step (an audit's auditors)."""

    roles: frozenset[Role]
    owner: str | None = None
    named: tuple[str, ...] = ()
    named_as: str = ""
    """What the named people are to the item, for the refusal: "the auditor"."""

    def admits(self, actor: Actor) -> bool:
        return actor.has(*self.roles) or (self.owner is not None and actor.id == self.owner) or actor.id in self.named


def require(
    ctx: Context,
    actor: Actor,
    allowed: Allowed | Iterable[Role],
    *,
    process: str,
    what: str,
    subject: tuple[str, str] = ("action", "-"),
    attempt: bool = True,
) -> None:
    """Raise ``Refused`` (after recording the attempt) unless ``allowed`` admits the actor.

    ``attempt=False`` for a person who only asked to see a list: they are told who it is for, and
    nothing is recorded (an attempt is an action on somebody else's item, not a question)."""
    rule = allowed if isinstance(allowed, Allowed) else Allowed(frozenset(allowed))
    if rule.admits(actor):
        return
    if not attempt:
        raise Refused(f"Sorry, {what} is for {_who(ctx, rule)} only.")
    with ctx.work(actor) as work:
        data = {"attempted": what, "roles": sorted(actor.roles)}
        if rule.owner is not None:
            data["owner"] = rule.owner
        if first_refusal(work.session, actor.id, process, what, subject, work.now):  # repeats only counted
            work.record(process, "access-denied", subject, data)
    raise Refused(f"Sorry, {what} is for {_who(ctx, rule)} only. This attempt has been recorded.")


def _who(ctx: Context, rule: Allowed) -> str:
    names = role_labels(rule.roles)
    if rule.owner is not None:
        names.insert(0, f"{person_name(ctx.org, rule.owner)} (the owner)")
    names[:0] = [f"{person_name(ctx.org, person)} ({rule.named_as})" for person in rule.named]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

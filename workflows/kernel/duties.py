"""Separation of duties: whoever did a piece of work does not also sign it off.

Somebody who handed in evidence does not accept it, and whoever asked for a change does not approve
it, even when they hold the role that decides. The people asked to decide are the role's holders
other than the author; when that leaves nobody (a single ISMS manager answering on an owner's
behalf), the organisation file's ``second_reviewer`` is asked instead and may decide on that item.
An author who tries anyway is refused politely, and the attempt is recorded once like any refusal.
"""

from __future__ import annotations

from collections.abc import Collection

from config.organisation import Organisation, Role
from storage.refusals import first_refusal
from workflows.kernel.access import Allowed, Refused
from workflows.kernel.actors import Actor
from workflows.kernel.people import person_name, with_role
from workflows.kernel.work import Context

REFUSAL_KIND = "separation-refused"


def deciders(org: Organisation, roles: Collection[Role], author: str | None) -> list[str]:
    """The person ids asked to decide on ``author``'s work: holders of ``roles`` but the author, or
    the second reviewer when nobody else holds them."""
    others = [person for person in with_role(org, *roles) if person != author]
    if others:
        return others
    second = org.second_reviewer
    return [second] if second is not None and second != author else []


def deciding(
    ctx: Context,
    actor: Actor,
    author: str | None,
    roles: Collection[Role],
    *,
    done: str,
    process: str,
    what: str,
    subject: tuple[str, str],
) -> Allowed:
    """Who may decide on ``author``'s work: the roles and, where they are the one asked, the second
    reviewer; for ``require`` or ``run_step``, which refuse everybody else for lack of a role.

    An actor the rule admits who is the author is refused here (the first attempt recorded). ``done``
    says what the author did, as in "You {done} yourself": "handed in this evidence"."""
    second = ctx.org.second_reviewer
    asked = second is not None and second in deciders(ctx.org, roles, author)
    rule = Allowed(frozenset(roles), owner=second if asked else None)
    if author is None or actor.id != author or not rule.admits(actor):
        return rule
    with ctx.work(actor) as work:
        if first_refusal(work.session, actor.id, process, f"{what} (own work)", subject, work.now):
            work.record(process, REFUSAL_KIND, subject, {"attempted": what, "author": author})
    others = deciders(ctx.org, roles, author)
    if others:
        names = ", ".join(person_name(ctx.org, person) for person in others)
        then = f"{names} {'has' if len(others) == 1 else 'have'} been asked."
    else:
        then = "Nobody else can decide yet: the organisation file can name a second reviewer (second_reviewer)."
    raise Refused(
        f"Sorry, you {done} yourself, so somebody else has to decide on it. {then} This attempt has been recorded."
    )

"""The one way a person's step on an item runs, for every process.

A step (classify an incident, approve a change, answer an evidence request) always does the same
things in the same order, so each process only writes what is its own:

1. who may do it (``Allowed``: roles, and the item's owner where that counts); a refusal is recorded;
2. one unit of work (state, records and outbox effects stored together or not at all);
3. the request's "first time" key, so a Slack retry or a double click acts once;
4. the item, loaded under its row lock, so two people pressing at once are serialised;
5. the state check against the item's lifecycle (its transition table);
6. the step itself, which changes the item, records and queues messages; then the new state is set.

Anything that stops a step is ``Refused`` with a message for the person.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from workflows.kernel.access import Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.ui import Outcome
from workflows.kernel.work import Context, Work

Item = TypeVar("Item")
State = TypeVar("State", bound=StrEnum)


@dataclass(frozen=True)
class Lifecycle(Generic[State]):
    """The states of one kind of item and the moves allowed from each; a state not listed is final."""

    moves: Mapping[State, frozenset[State]]

    def allows(self, current: str, target: State) -> bool:
        return any(target in targets for state, targets in self.moves.items() if state == current)


@dataclass(frozen=True)
class Items(Generic[Item]):
    """How the step runner finds one kind of item and words what stops a step on it."""

    kind: str
    """The subject type in records, e.g. "incident"."""
    process: str
    load: Callable[[Session, str, bool], Item | None]
    """(session, reference, lock) -> the item, under a row lock when ``lock``."""
    lifecycle: Lifecycle[Any]
    state_field: str
    missing: Callable[[str], str]
    """The answer when no item has that reference."""
    not_now: Callable[[Session, Item], str]
    """The answer when the item's state does not allow the step (read in the step's session)."""

    def state(self, item: Item) -> str:
        return str(getattr(item, self.state_field))

    def find(self, ctx: Context, ref: str) -> Item | None:
        with ctx.read() as session:
            return self.load(session, ref, False)


def run_step(
    ctx: Context,
    actor: Actor,
    items: Items[Item],
    ref: str,
    *,
    key: str,
    what: str,
    allowed: Allowed | Callable[[Item], Allowed],
    step: Callable[[Work, Item], Outcome],
    to: StrEnum | None = None,
    within: Collection[str] | None = None,
    again: Outcome | None = None,
) -> Outcome:
    """Run ``step`` on the item ``ref`` as described in the module docstring.

    ``to`` is the state the step moves the item to (checked against the lifecycle before, set after);
    ``within`` the states a step that keeps the state may run in; ``again`` the answer to a repeated
    request key (by default nothing more is said).
    """
    if callable(allowed):
        found = items.find(ctx, ref)
        if found is None:
            raise Refused(items.missing(ref))
        allowed = allowed(found)
    require(ctx, actor, allowed, process=items.process, what=what, subject=(items.kind, ref))
    with ctx.work(actor) as work:
        if not work.once(key):
            return again or Outcome()
        item = items.load(work.session, ref, True)
        if item is None:
            raise Refused(items.missing(ref))
        current = items.state(item)
        if (to is not None and not items.lifecycle.allows(current, to)) or (
            within is not None and current not in within
        ):
            raise Refused(items.not_now(work.session, item))
        outcome = step(work, item)
        if to is not None:
            setattr(item, items.state_field, to)
        return outcome

"""How a register item is found, shown as values and changed, and a risk's states.

A risk, each move a record:

    open -> treated (a treatment plan whose actions became change requests)
         -> accepted (the owner accepts the residual level, with a reason and an expiry date)
    accepted -> open (the acceptance expired: the owner is asked again)
    any -> closed (by import)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.registers import RegisterItem
from workflows.kernel.access import Allowed, Refused, require
from workflows.kernel.actors import Actor
from workflows.kernel.steps import Items, Lifecycle, run_step
from workflows.kernel.ui import Form, Outcome
from workflows.kernel.work import Context, Work
from workflows.registers.kinds import Kind, Value, level

OVERSEERS = frozenset({Role.ISMS_MANAGER, Role.SECURITY_LEAD, Role.AUDITOR, Role.MANAGEMENT})
"""Who sees every register item; everybody else sees the items they own."""
STEWARDS = frozenset({Role.ISMS_MANAGER})
"""Who may act on any item besides its owner (stands in for an owner who left)."""


class RiskState(StrEnum):
    OPEN = "open"
    TREATED = "treated"
    ACCEPTED = "accepted"
    CLOSED = "closed"


RISK_LIFECYCLE: Lifecycle[RiskState] = Lifecycle(
    {
        RiskState.OPEN: frozenset({RiskState.TREATED, RiskState.ACCEPTED}),
        RiskState.TREATED: frozenset({RiskState.TREATED, RiskState.ACCEPTED}),
        RiskState.ACCEPTED: frozenset({RiskState.OPEN, RiskState.TREATED}),
    }
)


def load_item(session: Session, kind: str, ref: str, lock: bool = False) -> RegisterItem | None:
    query = select(RegisterItem).where(RegisterItem.kind == kind, RegisterItem.ref == ref.strip())
    return session.scalar(query.with_for_update() if lock else query)


def register(kind: Kind, lifecycle: Lifecycle[Any] | None = None) -> Items[RegisterItem]:
    """One register for ``run_step``; only risks have a lifecycle of their own (the others' steps keep
    the status and name the statuses they run in)."""
    return Items(
        kind=kind.name,
        process=kind.process,
        load=lambda session, ref, lock: load_item(session, kind.name, ref, lock),
        lifecycle=lifecycle or Lifecycle({}),
        state_field="status",
        missing=lambda ref: f"There is no {kind.name} {ref} in the {kind.name} register.",
        not_now=lambda session, item: (
            f"{kind.name.capitalize()} {item.ref} is {item.status.replace('_', ' ')}; that step is not open to it now."
        ),
    )


def today(ctx: Context) -> date:
    """The organisation's date now (forms offer and check dates in it)."""
    return ctx.clock().astimezone(ctx.org.zone).date()


def owner_of(item: RegisterItem) -> Allowed:
    """Who acts on an item: its owner, or a steward standing in."""
    return Allowed(STEWARDS, owner=item.owner)


def open_form(
    ctx: Context, actor: Actor, items: Items[RegisterItem], ref: str, what: str, form: Callable[[RegisterItem], Form]
) -> Outcome:
    """The owner's form on one item, after checking it exists and is theirs (a refusal is recorded)."""
    item = items.find(ctx, ref.strip())
    if item is None:
        raise Refused(items.missing(ref.strip()[:64]))
    require(ctx, actor, owner_of(item), process=items.process, what=what, subject=(items.kind, item.ref))
    return Outcome(form=form(item))


def owner_step(
    ctx: Context,
    actor: Actor,
    items: Items[RegisterItem],
    ref: str,
    key: str,
    what: str,
    step: Callable[[Work, RegisterItem], Outcome],
    again: str,
    *,
    to: StrEnum | None = None,
    within: Collection[str] | None = None,
) -> Outcome:
    """An owner's answer to the form ``open_form`` gave them: the same check of who may act, then
    ``step`` once per request key (``again`` is what a repeated click or retry hears)."""
    return run_step(
        ctx,
        actor,
        items,
        ref,
        key=key,
        what=what,
        allowed=owner_of,
        step=step,
        to=to,
        within=within,
        again=Outcome.say(again),
    )


def values_of(kind: Kind, item: RegisterItem) -> dict[str, Value]:
    """The item as the register file's columns."""
    stored: dict[str, Any] = item.fields or {}
    values: dict[str, Value] = {}
    for name in kind.headings:
        if name == "id":
            values[name] = item.ref
        elif name == kind.title:
            values[name] = item.title
        elif name in ("owner", "status"):
            values[name] = getattr(item, name)
        else:
            values[name] = stored.get(name)
    return values


def set_values(kind: Kind, item: RegisterItem, values: dict[str, Value]) -> None:
    """Write the file's columns into the item (fields of the item's own, such as an acceptance, stay)."""
    fields = dict(item.fields or {})
    for name, value in values.items():
        if name == "id":
            item.ref = str(value)
        elif name == kind.title:
            item.title = str(value)
        elif name == "owner":
            item.owner = None if value is None else str(value)
        elif name == "status":
            item.status = str(value)
        else:
            fields[name] = value
    item.fields = fields
    if kind.name == "risk":
        item.level = level(fields)

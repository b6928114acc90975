"""How a register item is found, shown as values and changed, and a risk's states.

A risk, each move a record:

    open -> treated (a treatment plan whose actions became change requests)
         -> accepted (the owner accepts the residual level, with a reason and an expiry date)
    accepted -> open (the acceptance expired: the owner is asked again)
    any -> closed (by import)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.registers import RegisterItem
from workflows.kernel.steps import Items, Lifecycle
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


def risks() -> Items[RegisterItem]:
    """The risk register for ``run_step``."""
    return Items(
        kind="risk",
        process="RA",
        load=lambda session, ref, lock: load_item(session, "risk", ref, lock),
        lifecycle=RISK_LIFECYCLE,
        state_field="status",
        missing=lambda ref: f"There is no risk {ref} in the risk register.",
        not_now=lambda session, item: f"Risk {item.ref} is {item.status}; that step is not open to it now.",
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

"""The improvement register's items, their states and who decides.

    open -> accepted (the ISMS manager accepts: a change request with origin IMPR) | declined (with a
            reason the author is told)
    accepted -> done (the change is verified) | not-done (the change failed or was declined)

A nonconformity handed over by an audit arrives accepted: its corrective action is already a change
that AUD follows; it is done when AUD closes the finding.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.organisation import Role
from storage.models.improvement import Improvement
from workflows.kernel.steps import Items, Lifecycle


class ImprovementState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"
    NOT_DONE = "not-done"


LIFECYCLE: Lifecycle[ImprovementState] = Lifecycle(
    {
        ImprovementState.OPEN: frozenset({ImprovementState.ACCEPTED, ImprovementState.DECLINED}),
        ImprovementState.ACCEPTED: frozenset({ImprovementState.DONE, ImprovementState.NOT_DONE}),
    }
)
KIND_LABELS = {"suggestion": "suggestion", "nonconformity": "nonconformity", "opportunity": "opportunity"}
DECIDERS = frozenset({Role.ISMS_MANAGER})
READERS = frozenset({Role.ISMS_MANAGER, Role.AUDITOR, Role.MANAGEMENT})
"""See the whole register; everybody else sees their own suggestions."""


def load_item(session: Session, ref: str, lock: bool) -> Improvement | None:
    query = select(Improvement).where(Improvement.ref == ref.strip().upper())
    return session.scalar(query.with_for_update() if lock else query)


def _decided(session: Session, item: Improvement) -> str:
    change = f" (change {item.change_ref})" if item.change_ref else ""
    return f"{item.ref} was already decided: it is {item.state}{change}."


ITEMS: Items[Improvement] = Items(
    kind="improvement",
    process="IMPR",
    load=load_item,
    lifecycle=LIFECYCLE,
    state_field="state",
    missing=lambda ref: f"There is no improvement {ref}. /isms improvements lists the register.",
    not_now=_decided,
)

"""Due work of the registers for the scheduler's tick: an accepted risk whose acceptance has expired
goes back to its owner. Found by the indexed ``due_at``; handled with ``run_batches``; safe to run twice
(a handled risk is no longer accepted and has no due time)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.registers import RegisterItem
from workflows.kernel.batches import run_batches
from workflows.kernel.work import Context, Work
from workflows.registers.lifecycle import RiskState
from workflows.registers.messages import above_appetite
from workflows.registers.risks import ask_owner


def expire_acceptances(ctx: Context) -> None:
    now = ctx.clock()

    def find(session: Session, limit: int, passed: Collection[int]) -> Sequence[int]:
        query = (
            select(RegisterItem.id)
            .where(RegisterItem.due_at <= now, RegisterItem.kind == "risk", RegisterItem.status == RiskState.ACCEPTED)
            .order_by(RegisterItem.due_at, RegisterItem.id)
            .limit(limit)
        )
        if passed:
            query = query.where(RegisterItem.id.not_in(passed))
        return list(session.scalars(query))

    def handle(work: Work, ids: Sequence[int]) -> Collection[int]:
        handled = []
        query = select(RegisterItem).where(RegisterItem.id.in_(ids), RegisterItem.status == RiskState.ACCEPTED)
        for item in work.session.scalars(query.with_for_update(skip_locked=True)):
            if item.due_at is None or item.due_at > work.now:
                continue
            until = item.fields.get("accepted_until")
            item.status, item.due_at, item.updated_at = RiskState.OPEN, None, work.now
            work.record("RT", "acceptance-expired", ("risk", item.ref), {"until": until, "level": item.level})
            if above_appetite(work.ctx.org, item):
                ask_owner(work, item, f"Your acceptance ran until {until}.")
            handled.append(item.id)
        return handled

    run_batches(ctx, "expired risk acceptances", find, handle)

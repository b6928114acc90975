"""Due work of the registers for the scheduler's tick, each found by an indexed due time, handled with
``run_batches``, and safe to run twice (a handled item no longer has that due time):

- an accepted risk whose acceptance has expired goes back to its owner;
- an item whose review is near becomes an evidence request to its owner (the evidence engine asks,
  reminds and escalates from there); a supplier with a contact address is also asked by mail for its
  own evidence (a certificate, an audit report) when the organisation sends mail (Microsoft 365);
- a supplier whose contract ends within the notice period is brought to its owner's attention.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models.registers import RegisterItem
from workflows.evidence.activities import request_evidence
from workflows.kernel.batches import run_batches
from workflows.kernel.recipients import Recipient
from workflows.kernel.work import Context, Work
from workflows.outreach.mail import send_mail
from workflows.registers import messages
from workflows.registers.kinds import KINDS
from workflows.registers.lifecycle import RiskState
from workflows.registers.reviews import contract_notice_date, moment, review_date
from workflows.registers.risks import ask_owner

ItemStep = Callable[[Work, RegisterItem], None]


def _due_items(
    ctx: Context,
    what: str,
    column: InstrumentedAttribute[object],
    until: timedelta,
    where: Sequence[ColumnElement[bool]],
    step: ItemStep,
) -> None:
    """Every item whose ``column`` is at most ``until`` ahead of now and matches ``where``: ``step``
    runs on it under its row lock, then the due time is cleared (the step may set a new one)."""
    now = ctx.clock()
    due = [column <= now + until, *where]

    def find(session: Session, limit: int, passed: Collection[int]) -> Sequence[int]:
        query = select(RegisterItem.id).where(*due).order_by(column, RegisterItem.id).limit(limit)
        if passed:
            query = query.where(RegisterItem.id.not_in(passed))
        return list(session.scalars(query))

    def handle(work: Work, ids: Sequence[int]) -> Collection[int]:
        handled = []
        query = select(RegisterItem).where(RegisterItem.id.in_(ids), *due)
        for item in work.session.scalars(query.with_for_update(skip_locked=True)):
            setattr(item, column.key, None)
            step(work, item)
            item.updated_at = work.now
            handled.append(item.id)
        return handled

    run_batches(ctx, what, find, handle)


def expire_acceptances(ctx: Context) -> None:
    def expire(work: Work, item: RegisterItem) -> None:
        until = item.fields.get("accepted_until")
        item.status = RiskState.OPEN
        work.record("RT", "acceptance-expired", ("risk", item.ref), {"until": until, "level": item.level})
        if messages.above_appetite(work.ctx.org, item):
            ask_owner(work, item, f"Your acceptance ran until {until}.")

    where = [RegisterItem.kind == "risk", RegisterItem.status == RiskState.ACCEPTED]
    _due_items(ctx, "expired risk acceptances", RegisterItem.due_at, timedelta(0), where, expire)


def ask_reviews(ctx: Context) -> None:
    def ask(work: Work, item: RegisterItem) -> None:
        day = review_date(work.ctx.org, item)
        if day is None or item.owner is None:
            return
        kind = KINDS[item.kind]
        request_evidence(
            work,
            key=f"{kind.process}/{kind.name}-review:{item.ref}",
            period=day.isoformat(),
            covers=(day, day),
            process=kind.process,
            title=f"Review {kind.name} {item.ref}: {item.title}",
            clause=None,
            evidence="text",
            owner=item.owner,
            due=moment(work.ctx.org, day),
        )
        item.fields = {**item.fields, "review_asked": day.isoformat()}
        work.record(kind.process, "review-requested", (kind.name, item.ref), {"review": day.isoformat()})
        contact = item.fields.get("contact_email")
        if item.kind == "supplier" and contact and work.ctx.org.microsoft365.mailbox:
            owner = work.ctx.org.person(item.owner)
            reply_to = str(owner.email) if owner is not None and owner.email else ""
            message = messages.supplier_evidence(work.ctx.org.name, item, day.isoformat(), reply_to)
            send_mail(work, Recipient("email", str(contact)), message, f"supplier:{item.ref}:evidence:{day}")
            work.record("SUP", "supplier-evidence-requested", ("supplier", item.ref), {"contact": contact})

    lead = timedelta(days=ctx.org.registers.review_lead_days)
    _due_items(ctx, "register reviews", RegisterItem.review_at, lead, [], ask)


def tell_contract_endings(ctx: Context) -> None:
    def tell(work: Work, item: RegisterItem) -> None:
        end = item.fields.get("contract_end")
        if contract_notice_date(work.ctx.org, item) is None or item.owner is None:
            return
        item.fields = {**item.fields, "contract_notice": end}
        work.record("SUP", "contract-ending", ("supplier", item.ref), {"contract_end": end})
        work.notify(
            Recipient.person(item.owner),
            messages.contract_ending(item, str(end)),
            f"supplier:{item.ref}:contract:{end}",
        )

    where = [RegisterItem.kind == "supplier"]
    _due_items(ctx, "supplier contracts ending", RegisterItem.due_at, timedelta(0), where, tell)

"""When a register item next needs its owner, worked out from its fields whenever they change:

- its review (``review_at``): a risk's ``next_review``, a requirement's ``next_check``, a supplier's
  ``last_review`` plus the days its criticality asks for (``registers.supplier_review_days``; never
  reviewed: due at once); the owner is asked through the evidence engine ``review_lead_days`` before;
- a supplier's contract notice (``due_at``): ``contract_notice_days`` before ``contract_end``.

Both happen once per date: the date asked about is kept in the item (``review_asked``,
``contract_notice``), so an unchanged re-import does not ask again, and a new date does.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from config.organisation import Organisation
from storage.models.registers import RegisterItem

LIVE = {"risk": ("open", "treated", "accepted"), "requirement": ("current",), "supplier": ("active",)}
"""Statuses in which an item is reviewed; a closed risk or an ended supplier is not."""


def review_date(org: Organisation, item: RegisterItem) -> date | None:
    fields: dict[str, Any] = item.fields or {}
    if item.status not in LIVE.get(item.kind, ()):
        return None
    if item.kind == "risk":
        return _day(fields.get("next_review"))
    if item.kind == "requirement":
        return _day(fields.get("next_check"))
    last = _day(fields.get("last_review"))
    if last is None:
        return item.created_at.astimezone(org.zone).date()
    return last + timedelta(days=org.registers.supplier_review_days[fields["criticality"]])


def contract_notice_date(org: Organisation, item: RegisterItem) -> date | None:
    end = _day((item.fields or {}).get("contract_end")) if item.kind == "supplier" else None
    if end is None or item.status != "active":
        return None
    return end - timedelta(days=org.registers.contract_notice_days)


def plan(org: Organisation, item: RegisterItem) -> None:
    """Set ``review_at`` (and a supplier's ``due_at``) from the item's fields; a date already asked
    about is not planned again."""
    fields: dict[str, Any] = item.fields or {}
    review = review_date(org, item)
    item.review_at = moment(org, review) if review and fields.get("review_asked") != review.isoformat() else None
    if item.kind == "supplier":
        notice = contract_notice_date(org, item)
        sent = fields.get("contract_notice") == fields.get("contract_end")
        item.due_at = moment(org, notice) if notice and not sent else None


def moment(org: Organisation, day: date) -> datetime:
    """A date as the moment things fall due that day (the programme's due time, organisation timezone)."""
    return datetime.combine(day, org.activities.due_time, tzinfo=org.zone)


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None

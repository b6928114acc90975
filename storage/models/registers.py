"""The registers (risks, controls, assets, suppliers, requirements, interested parties) in one table.

One table rather than six, because everything done with an item is the same whatever its kind:
imported and exported by id, listed by owner, status or text, shown with its history, and changed
field by field with a record of the previous value. What all kinds share and what is queried is a
typed column (id, title, owner, status, the residual level of a risk, the next due moment); what only
one kind has lives in ``fields`` (JSON), validated by the kind's description in
``workflows/registers/kinds.py``. The records log holds each item's history; this row is its
current picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class RegisterItem(Base):
    """One item of one register, e.g. risk R-001 or control A.8.5."""

    __tablename__ = "register_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    level: Mapped[int | None] = mapped_column(Integer)
    """A risk's residual level (likelihood x impact after treatment); what appetite is checked against."""
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When the item next needs its owner: a risk's acceptance expiry, a supplier's contract notice."""
    review_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When the item is next due for review by its owner (asked ``review_lead_days`` before)."""
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("kind", "ref", name="uq_register_items_kind_ref"),
        Index("ix_register_items_kind_owner", "kind", "owner"),
        Index("ix_register_items_due_at", "due_at"),
        Index("ix_register_items_review_at", "review_at"),
    )

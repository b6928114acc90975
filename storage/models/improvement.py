"""The improvement register (IMPR): suggestions from anyone, and the nonconformities and opportunities
that audits hand over. An accepted item becomes a change request, whose result comes back here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Improvement(Base):
    __tablename__ = "improvements"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    """suggestion, nonconformity or opportunity."""
    source: Mapped[str] = mapped_column(String(16))
    """Where it came from: ``chat`` or the handing process (``AUD``)."""
    source_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(128))
    author_to: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    change_ref: Mapped[str | None] = mapped_column(String(20))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_improvements_state", "state"),)

"""Outside effects waiting to be sent (see storage/outbox.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime

OPEN = text("status IN ('pending', 'sending')")


class OutboxEffect(Base):
    """A message, ticket or mail the bot owes somebody, queued in the transaction that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When the current claim began; ``claimed_until`` is renewed while the claimer is alive."""
    unsure_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """Start of the earliest attempt that may have reached the receiver unanswered (crash, timeout, 5xx)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The claim walks only rows not yet sent or dead, oldest first, however many sent rows pile up.
        Index("ix_outbox_open", "id", postgresql_where=OPEN, sqlite_where=OPEN),
    )

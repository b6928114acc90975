"""Management reviews (GOV): each review with its input pack and decisions, and the actions it raised
(each one a change request whose state the next review's pack reports)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Review(Base):
    """One management review. ``pack_due_at`` is when its input pack is assembled; it is cleared once
    the pack is stored, so the due work reads only reviews still waiting for one (indexed)."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    chair: Mapped[str] = mapped_column(String(64))
    attendees: Mapped[str] = mapped_column(Text)
    """Person ids, comma-separated, the chair first."""
    location: Mapped[str] = mapped_column(String(200), default="")
    origin: Mapped[str] = mapped_column(String(16))
    """"schedule" (the organisation file) or "chat" (``/isms review new``)."""
    state: Mapped[str] = mapped_column(String(16))
    pack_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    pack_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pack_sha256: Mapped[str | None] = mapped_column(String(64))
    pack_markdown: Mapped[str | None] = mapped_column(Text)
    pack_html: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    """The invitation's revision (RFC 5545 SEQUENCE): raised when the review moves."""
    decisions: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_reviews_starts_at", "starts_at"),)

    @property
    def people(self) -> list[str]:
        return [person for person in self.attendees.split(",") if person]


class ReviewAction(Base):
    """An action a review decided, with its owner and due date, and the change request it became."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_ref: Mapped[str] = mapped_column(String(32), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    owner: Mapped[str] = mapped_column(String(64))
    due: Mapped[date] = mapped_column(Date)
    change_ref: Mapped[str] = mapped_column(String(32), index=True)
    change_state: Mapped[str] = mapped_column(String(24))
    """The change's state as CHG last reported it (``change-status``)."""

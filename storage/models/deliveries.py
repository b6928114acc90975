"""Requests already handled, so that a retried Slack event or a double click acts once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Delivery(Base):
    """One handled request, keyed by Slack's event id or a key of our own (trigger id, view id)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_at", "at"),)  # pruning after Slack's retry window

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

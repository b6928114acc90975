"""Change requests (CHG), their tracker link and the local tracker's tickets.

A change is one row whose ``state`` moves through the lifecycle in workflows/changes/lifecycle.py;
every move is also a record in the records log, so this table is the current picture and the log is
the history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UtcDateTime


class Change(Base):
    """One request for change, wherever it came from (origin process and reference)."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    origin_process: Mapped[str] = mapped_column(String(16))
    origin_ref: Mapped[str] = mapped_column(String(64))
    element: Mapped[str] = mapped_column(String(200), default="")
    plan: Mapped[str] = mapped_column(Text, default="")
    fallback: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(16))
    significant: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(24))
    requester: Mapped[str] = mapped_column(String(128))
    requester_to: Mapped[str] = mapped_column(String(200))
    risk_owner: Mapped[str | None] = mapped_column(String(128))
    risk_likelihood: Mapped[int | None] = mapped_column(Integer)
    risk_impact: Mapped[int | None] = mapped_column(Integer)
    risk_comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    tracker: Mapped[str | None] = mapped_column(String(16))
    tracker_key: Mapped[str | None] = mapped_column(String(64))
    tracker_status: Mapped[str | None] = mapped_column(String(64))
    tracker_resolution: Mapped[str | None] = mapped_column(String(64))
    tracker_updated: Mapped[datetime | None] = mapped_column(UtcDateTime())
    verifier: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_changes_state", "state"),
        Index("ix_changes_tracker_key", "tracker_key"),
        Index("ix_changes_origin", "origin_process", "origin_ref"),
        Index("ix_changes_tracker_open", "tracker", "closed_at"),
        Index("ix_changes_requester_open", "requester", "closed_at", "id"),
        Index("ix_changes_created_at", "created_at"),
        Index("ix_changes_closed_at", "closed_at"),
        Index("ix_changes_lead_time", "state", "closed_at", "created_at"),  # covers lead times (0018)
    )


class LocalTicket(Base):
    """A ticket of the local tracker, used instead of Jira when Jira is not configured."""

    __tablename__ = "local_tickets"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    change_ref: Mapped[str] = mapped_column(String(20), unique=True)
    summary: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TrackerWatermark(Base):
    """Until when the tracker has been polled, so the next poll asks only for newer updates."""

    __tablename__ = "tracker_watermarks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
